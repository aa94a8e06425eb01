# The local SMTP sink of deploy/local, for compose.yaml: docker build -f deploy/smtp-sink.Dockerfile .
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "aiosmtpd>=1.4"
COPY deploy/local/smtp_sink.py /app/smtp_sink.py
USER 65534
EXPOSE 1025 8025
CMD ["python", "/app/smtp_sink.py", "--host", "0.0.0.0"]
