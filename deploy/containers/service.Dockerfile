# One image per service, all from this file. Build from the repository root:
#   docker build -f deploy/containers/service.Dockerfile --build-arg SERVICE=identity -t accounts-identity .
# SERVICE: a folder of services/ (its package and its command have its name).
# SYSTEM_PACKAGES: Debian packages the service runs (the catalogue: ffmpeg, for the transcoder and seed).
# BASE_IMAGE: any Python 3.11 image with pip (make containers passes localhost/accounts-python).
# One image for every process of the service (`<service> relay`, `<service> worker`, …); the default
# command is the web process, its workers sized by WEB_CONCURRENCY.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG SERVICE
ARG SYSTEM_PACKAGES=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SERVICE=${SERVICE}
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<a folder of services/>" >&2; exit 1; } \
    && if [ -n "$SYSTEM_PACKAGES" ]; then apt-get update \
        && apt-get install -y --no-install-recommends $SYSTEM_PACKAGES && rm -rf /var/lib/apt/lists/*; fi
COPY shared /build/shared
COPY services/${SERVICE} /build/services/${SERVICE}
# A service with translations ships them compiled; one with browser libraries (services/<service>/assets,
# from npm by deploy/local/portal-assets.sh, which build.sh runs first) ships them in static/vendor/.
RUN cd /build/services/${SERVICE} \
    && if [ -d assets ] && [ -z "$(ls src/${SERVICE}/static/vendor 2>/dev/null)" ]; then \
        echo "run deploy/local/portal-assets.sh before building the ${SERVICE} image" >&2; exit 1; fi \
    && if [ -d src/${SERVICE}/translations ]; then \
        pip install babel && pybabel compile -d src/${SERVICE}/translations; fi \
    && pip install /build/shared . && cd / && rm -rf /build \
    && mkdir -p /media && chown 65534 /media
USER 65534
CMD ["sh", "-c", "exec \"$SERVICE\" web --host 0.0.0.0"]
