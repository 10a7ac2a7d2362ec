#!/usr/bin/env bash
# Builds the root Dockerfile where no registry is reachable and runs it:
# the container must answer /_matrix/client/versions, run as non-root under
# tini, keep its data in the volume across a restart, and register a user.
#
# The base image is the Complement image's (complement/run.sh): Debian 12 made
# with debootstrap and `docker import`ed, with python3, python3-venv, openssl,
# ca-certificates and curl. This script adds Debian's tini package (downloaded
# on the host with apt) and builds the Dockerfile with a wheelhouse made on the
# host (pip wheel), so the build itself needs no network.
#
#   docker/test.sh                 build and test
#   DOCKER_TEST_BASE=IMAGE         use this base image (python3 + venv) instead
#   DOCKER_TEST_KEEP=1             leave the image (conduwuit-py:test) behind
#
# Exit 0: all checks passed. The registration check is skipped (not failed)
# while the server has no /register endpoint, and says so.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${DOCKER_TEST_CACHE:-$ROOT/.cache/docker-test}
IMAGE=conduwuit-py:test
NAME=conduwuit-docker-test-$$
VOLUME=conduwuit-docker-test-$$
TOKEN=docker-test-token
mkdir -p "$CACHE"

log() { printf '[docker-test %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PASSED=0
FAILED=0
SKIPPED=0
pass() { PASSED=$((PASSED + 1)); log "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); log "FAIL $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); log "skip $*"; }

DOCKERD_PID=
cleanup() {
    local rc=$?
    set +e
    docker rm -f "$NAME" >/dev/null 2>&1
    docker volume rm "$VOLUME" >/dev/null 2>&1
    [ "${DOCKER_TEST_KEEP:-0}" = 1 ] || docker rmi "$IMAGE" >/dev/null 2>&1
    if [ -n "$DOCKERD_PID" ]; then
        log "stopping the dockerd this script started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- a Docker engine (as complement/run.sh: start one if none answers) ----------
if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || apt_install docker.io
    log "no Docker engine answers; starting dockerd (log: $CACHE/dockerd.log)"
    dockerd >"$CACHE/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || die "dockerd did not answer (see $CACHE/dockerd.log)"
fi

# --- the base: the Complement image's debootstrapped Debian ---------------------
complement_base() {
    # Same name as complement/run.sh's build_base(), read from that script so the
    # two cannot drift apart.
    local run=$ROOT/complement/run.sh suite packages key
    [ -f "$run" ] || return 1
    suite=$(sed -n 's/^SUITE=//p' "$run")
    packages=$(sed -n 's/^ROOTFS_PACKAGES=//p' "$run")
    key=$(printf '%s %s v1' "$suite" "$packages" | sha256sum | cut -c1-12)
    echo "conduwuit-complement-base:$key"
}
BASE=${DOCKER_TEST_BASE:-}
if [ -z "$BASE" ]; then
    BASE=$(complement_base) || die "no complement/run.sh in this checkout: set DOCKER_TEST_BASE to an image with python3 and python3-venv"
    if ! docker image inspect "$BASE" >/dev/null 2>&1; then
        log "base image $BASE missing: building it with complement/run.sh --smoke"
        "$ROOT/complement/run.sh" --smoke || die "complement/run.sh --smoke failed"
    fi
fi
docker image inspect "$BASE" >/dev/null 2>&1 || die "no base image $BASE"
log "base image: $BASE"

# --- tini, from Debian's archive via the host's apt ------------------------------
TINI_BASE=conduwuit-docker-test-base:$(printf '%s' "$BASE" | sha256sum | cut -c1-12)
if ! docker image inspect "$TINI_BASE" >/dev/null 2>&1; then
    ctx=$CACHE/tini-context
    rm -rf "$ctx" && mkdir -p "$ctx"
    (cd "$ctx" && apt-get download tini >/dev/null 2>&1) \
        || { apt-get update -qq && (cd "$ctx" && apt-get download tini >/dev/null); } \
        || die "apt-get download tini failed"
    printf 'FROM %s\nCOPY *.deb /tmp/\nRUN dpkg -i /tmp/*.deb && rm /tmp/*.deb\n' "$BASE" > "$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$TINI_BASE" "$ctx" >/dev/null || die "building $TINI_BASE failed"
fi

# --- the build context: the Dockerfile's files and a wheelhouse --------------------
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "the wheelhouse is built with the host's python3, which must be 3.11 like Debian 12's"
CONTEXT=$CACHE/context
rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
(cd "$ROOT" && git ls-files -co --exclude-standard -- pyproject.toml README.md conduwuit Dockerfile .dockerignore \
    | tar -cf - -T - ) | tar -xf - -C "$CONTEXT"
key=$(sha256sum "$ROOT/pyproject.toml" | cut -c1-12)
wheels=$CACHE/wheelhouse-$key
if [ ! -d "$wheels" ]; then
    log "pip wheel: dependencies and build backend (pyproject.toml $key)"
    rm -rf "$wheels.part"
    PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip wheel --quiet --wheel-dir "$wheels.part" \
        "$ROOT" "setuptools>=68" wheel || die "pip wheel failed"
    rm -f "$wheels.part"/conduwuit-*.whl
    mv "$wheels.part" "$wheels"
fi
cp -r "$wheels" "$CONTEXT/wheelhouse"

log "docker build (log: $CACHE/build.log)"
DOCKER_BUILDKIT=0 docker build --build-arg "PYTHON_IMAGE=$TINI_BASE" \
    --build-arg WHEELHOUSE=/src/wheelhouse \
    --build-arg "REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    -t "$IMAGE" "$CONTEXT" >"$CACHE/build.log" 2>&1 \
    || { tail -30 "$CACHE/build.log" >&2; die "docker build failed"; }
pass "docker build of the root Dockerfile"

# --- run it, configured by environment only ------------------------------------------
start() {
    docker run -d --name "$NAME" -p 127.0.0.1::8008 -v "$VOLUME:/var/lib/conduwuit" \
        -e CONDUWUIT_SERVER_NAME=docker.test \
        -e CONDUWUIT_ALLOW_REGISTRATION=true \
        -e CONDUWUIT_REGISTRATION_TOKEN=$TOKEN \
        "$IMAGE" >/dev/null
    PORT=$(docker port "$NAME" 8008/tcp | head -1 | sed 's/.*://')
    for _ in $(seq 1 120); do
        curl -fsS -o /dev/null "http://127.0.0.1:$PORT/_matrix/client/versions" 2>/dev/null && return 0
        [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || break
        sleep 0.5
    done
    docker logs "$NAME" >&2
    return 1
}
start || die "the container did not answer /_matrix/client/versions"
versions=$(curl -fsS "http://127.0.0.1:$PORT/_matrix/client/versions")
if printf '%s' "$versions" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d["versions"], list)'; then
    pass "GET /_matrix/client/versions: $versions"
else
    fail "GET /_matrix/client/versions: $versions"
fi

[ "$(docker exec "$NAME" id -u)" = 10000 ] && pass "runs as uid 10000" || fail "not uid 10000"
pid1=$(docker exec "$NAME" cat /proc/1/comm)
[ "$pid1" = tini ] && pass "tini is PID 1" || fail "PID 1 is $pid1"
labels=$(docker image inspect -f '{{json .Config.Labels}}' "$IMAGE")
case "$labels" in *org.opencontainers.image.licenses*org.opencontainers.image.revision*) pass "OCI labels";; *) fail "labels: $labels";; esac

key1=$(curl -fsS "http://127.0.0.1:$PORT/_matrix/key/v2/server" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["verify_keys"]))')

# --- register a user (user-interactive auth with the registration token) -----------
register() {
    python3 - "$PORT" "$TOKEN" <<'PY'
import json, sys, urllib.error, urllib.request
port, token = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}/_matrix/client/v3/register"
def post(body):
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
body = {"username": "alice", "password": "correct horse battery", "inhibit_login": False}
status, first = post(body)
if status == 404 or first.get("errcode") == "M_UNRECOGNIZED":
    print("NO_ENDPOINT"); sys.exit(0)
if status == 401:
    body["auth"] = {"type": "m.login.registration_token", "token": token, "session": first.get("session")}
    status, first = post(body)
ok = status == 200 and first.get("user_id") == "@alice:docker.test" and first.get("access_token")
print("OK" if ok else f"BAD {status} {first}")
PY
}
result=$(register)
case "$result" in
    OK) pass "registered @alice:docker.test with the registration token" ;;
    NO_ENDPOINT) skip "registration: the server has no /register endpoint yet (accounts not in this build)" ;;
    *) fail "registration: $result" ;;
esac

# --- the data outlives the container ---------------------------------------------
docker stop -t 30 "$NAME" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] && pass "docker stop: clean exit" || fail "docker stop: exit code $code"
docker logs "$NAME" 2>&1 | grep -q "database closed" && pass "database closed on SIGTERM" || fail "no clean shutdown in the log"
docker rm "$NAME" >/dev/null
start || die "the container did not come back"
key2=$(curl -fsS "http://127.0.0.1:$PORT/_matrix/key/v2/server" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["verify_keys"]))')
[ "$key1" = "$key2" ] && pass "signing key kept in the volume across containers" || fail "signing key changed: $key1 -> $key2"

printf 'docker: %d passed, %d failed, %d skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
[ "$FAILED" = 0 ]
