# The local SMTP sink of deploy/local, for compose and the container tests.
# Build from the repository root: docker build -f deploy/containers/smtp-sink.Dockerfile .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "aiosmtpd>=1.4"
COPY deploy/local/smtp_sink.py /app/smtp_sink.py
# The bounce Maildir's volume (compose's bounce-maildir), writable by the sink and mailer-bounces.
RUN mkdir /bounces && chown 65534:65534 /bounces
USER 65534
EXPOSE 1025 8025
CMD ["python", "/app/smtp_sink.py", "--host", "0.0.0.0"]
