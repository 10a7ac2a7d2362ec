# conduwuit (Python) for people without Nix:
#   docker build -t conduwuit-py .
#   docker run -d -p 8008:8008 -v conduwuit:/var/lib/conduwuit \
#       -e CONDUWUIT_SERVER_NAME=example.org conduwuit-py
# Configured by environment alone (CONDUWUIT_<OPTION>, values parsed as TOML), as
# the Nix image (nix/oci-image.nix); docs/deploying/docker.md has a compose file.
#
# Offline builds (no registry reachable from the build): pass a base image that
# has python3 + venv and tini, and a wheelhouse in the build context:
#   --build-arg PYTHON_IMAGE=... --build-arg WHEELHOUSE=/src/wheelhouse
# docker/test.sh does exactly that with the Complement image's Debian base.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG WHEELHOUSE=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/conduwuit
COPY . /src
RUN set -e; \
    if [ -n "$WHEELHOUSE" ]; then set -- --no-index --find-links "$WHEELHOUSE"; fi; \
    /opt/conduwuit/bin/pip install --quiet "$@" /src \
 && /opt/conduwuit/bin/python -c "import conduwuit, rocksdict, nacl, argon2, uvloop"
# The server runs with -OO (below): its packages' bytecode at that level only.
RUN set -e; \
    find /opt/conduwuit -name '*.pyc' -delete; \
    /opt/conduwuit/bin/python -OO -m compileall -q -j 0 /opt/conduwuit >/dev/null || true; \
    find /opt/conduwuit -path '*/conduwuit/__pycache__/server.*.opt-2.pyc' | grep -q .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="conduwuit (Python)" \
      org.opencontainers.image.description="A Matrix homeserver in Python, after conduwuit" \
      org.opencontainers.image.source="https://github.com/girlbossceo/conduwuit" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# tini reaps zombies and forwards SIGTERM, so `docker stop` shuts down cleanly.
RUN command -v tini >/dev/null \
 || (apt-get update \
     && apt-get install -y --no-install-recommends tini ca-certificates \
     && rm -rf /var/lib/apt/lists/*)
RUN useradd --system --uid 10000 --user-group --home-dir /var/lib/conduwuit \
        --shell /usr/sbin/nologin conduwuit \
 && mkdir -p /var/lib/conduwuit \
 && chown conduwuit:conduwuit /var/lib/conduwuit \
 && chmod 0700 /var/lib/conduwuit
COPY --from=build /opt/conduwuit /opt/conduwuit
# The server runs with -OO (PYTHONOPTIMIZE=2 below: no docstrings in memory, ~2 MiB
# less RSS; nothing in it reads docstrings or relies on asserts), from bytecode
# compiled at build time: the server's user cannot write __pycache__, and without
# it every start would compile every module from source. Its packages' bytecode is
# compiled in the build stage; the standard library's here, as root (without its
# tests, idlelib, tkinter; compileall's status is ignored: a base image may hold
# files that do not compile, such as test data; the import after it must work).
RUN set -e; \
    stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'); \
    python3 -OO -m compileall -q -j 0 -x '/(test|tests|idlelib|tkinter|turtledemo|site-packages)/' \
        "$stdlib" >/dev/null || true; \
    /opt/conduwuit/bin/python -OO -c "import conduwuit.server"

ENV PATH=/opt/conduwuit/bin:$PATH \
    PYTHONOPTIMIZE=2 \
    PYTHONUNBUFFERED=1 \
    CONDUWUIT_DATABASE_PATH=/var/lib/conduwuit \
    CONDUWUIT_ADDRESS=0.0.0.0 \
    CONDUWUIT_PORT=8008
USER conduwuit
WORKDIR /var/lib/conduwuit
VOLUME /var/lib/conduwuit
EXPOSE 8008
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8008/_matrix/client/versions', timeout=4)"]
ENTRYPOINT ["tini", "--"]
CMD ["conduwuit", "serve"]
