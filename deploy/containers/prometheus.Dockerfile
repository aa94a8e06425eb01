# Prometheus for deploy/compose.yaml: Debian's package, scraping every process of the stack by its
# compose name and port (the configuration written by deploy/observability/scrape_config.py, as
# `make run` writes its own), the alert rules of deploy/observability loaded.
# Build from the repository root: docker build -f deploy/containers/prometheus.Dockerfile .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# policy-rc.d: the package's post-install would start the service inside the build.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
COPY deploy/observability/alerts.yaml deploy/observability/scrape_config.py /etc/accounts/
RUN python /etc/accounts/scrape_config.py --rules /etc/accounts/alerts.yaml \
        identity-web=identity-web:8001 identity-relay=identity-relay:9101 \
        identity-audit-log=identity-audit-log:9110 \
        mailer-web=mailer-web:8004 mailer-worker=mailer-worker:9104 \
        catalogue-web=catalogue-web:8002 catalogue-worker=catalogue-worker:9106 \
        catalogue-relay=catalogue-relay:9107 catalogue-transcoder=catalogue-transcoder:9108 \
        newsletter-web=newsletter-web:8003 newsletter-worker=newsletter-worker:9103 \
        newsletter-relay=newsletter-relay:9102 portal-web=portal-web:8000 \
        >/etc/accounts/prometheus.yml
USER 65534
EXPOSE 9090
CMD ["prometheus", "--config.file=/etc/accounts/prometheus.yml", "--storage.tsdb.path=/tmp/prometheus", \
     "--web.listen-address=0.0.0.0:9090"]
