# The local SMTP sink of deploy/local, for compose and the container tests: Mailpit (the inbox,
# web UI and API on 8025) behind the SMTP fault handler (SMTP on 1025, its fault switch on 8026).
# Built by `deploy/containers/build.sh smtp-sink` from a context it lays out: the Mailpit binary of
# deploy/local/build-mailpit.sh (Go and npm stay on the host) and deploy/local/smtp_faults.py with
# the module it imports, smtp_fault_rules.py.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "aiosmtpd>=1.4"
COPY mailpit /usr/local/bin/mailpit
COPY smtp_faults.py smtp_fault_rules.py /app/
# The bounce Maildir's volume (compose's bounce-maildir), writable by the fault handler and mailer-bounces.
RUN mkdir /bounces && chown 65534:65534 /bounces
USER 65534
EXPOSE 1025 8025 8026
# Mailpit keeps its messages in a temporary file and takes mail only from the fault handler.
CMD ["sh", "-c", "mailpit --listen 0.0.0.0:8025 --smtp 127.0.0.1:1026 --max 10000 --disable-version-check --smtp-disable-rdns & exec python /app/smtp_faults.py --host 0.0.0.0 --control-port 8026 --mailpit-smtp 127.0.0.1:1026 --bounce-maildir /bounces/Maildir"]
