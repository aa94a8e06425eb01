# nginx (Debian's package) in front of the services' ports, as in `make run`; the configuration comes
# from deploy/local/nginx_conf.py when the container starts (routes and media root in the command): the
# compose service, the nginx beside each catalogue pod and the Kubernetes edge (deploy/k8s/edge.yaml).
# Build from the repository root: docker build -f deploy/containers/nginx.Dockerfile .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/local/nginx_conf.py deploy/local/nginx_blocks.py /app/
COPY deploy/containers/nginx-entrypoint.sh /usr/local/bin/nginx-entrypoint
USER 65534
EXPOSE 8000 8001 8002 8003 8004 8080 8081 8443
# What `podman stop`, compose and Kubernetes send to end the container: nginx's graceful shutdown (it
# stops accepting, finishes the requests in flight, then exits); TERM would drop them mid-answer.
STOPSIGNAL SIGQUIT
ENTRYPOINT ["nginx-entrypoint"]
