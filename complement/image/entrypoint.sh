#!/bin/sh
# Entrypoint of the Complement image (complement/run.sh builds it).
#
# Runs at *every* container start: Complement starts a container, copies its
# CA (a new one per test package) to /complement/ca/, starts it, and later
# `docker commit`s blueprint containers and starts them again. So the TLS
# certificate is issued afresh each time, from whatever CA is there now.
set -eu

: "${SERVER_NAME:?SERVER_NAME must be set (Complement sets it to hs1, hs2, ...)}"

CA_DIR=/complement/ca
TLS_DIR=/conduwuit/tls
mkdir -p "$TLS_DIR" /conduwuit/db

if [ -f "$CA_DIR/ca.crt" ] && [ -f "$CA_DIR/ca.key" ]; then
    # Trust the CA system-wide too (Python's default context reads the
    # system store), besides CONDUWUIT_FEDERATION_CA_FILE below.
    cp "$CA_DIR/ca.crt" /usr/local/share/ca-certificates/complement.crt
    update-ca-certificates >/dev/null 2>&1 || echo "entrypoint: update-ca-certificates failed" >&2

    # Subject alternative name: Python's (and Go's) hostname checks ignore the CN.
    case "$SERVER_NAME" in
        *[!0-9.]*) san="DNS:$SERVER_NAME" ;;
        *) san="IP:$SERVER_NAME" ;;
    esac
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$TLS_DIR/ext.cnf"
    openssl req -new -newkey rsa:2048 -nodes -sha256 \
        -keyout "$TLS_DIR/key.pem" -subj "/CN=$SERVER_NAME" \
        -out "$TLS_DIR/req.csr" 2>/dev/null
    openssl x509 -req -in "$TLS_DIR/req.csr" -sha256 -days 2 \
        -CA "$CA_DIR/ca.crt" -CAkey "$CA_DIR/ca.key" \
        -CAserial "$TLS_DIR/ca.srl" -CAcreateserial \
        -extfile "$TLS_DIR/ext.cnf" -out "$TLS_DIR/cert.pem" 2>/dev/null
    export CONDUWUIT_FEDERATION_CA_FILE="$CA_DIR/ca.crt"
else
    # Not under Complement (e.g. a manual `docker run`): self-signed, so the
    # server still starts with TLS on 8448.
    echo "entrypoint: no CA in $CA_DIR, issuing a self-signed certificate" >&2
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 \
        -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" \
        -subj "/CN=$SERVER_NAME" -addext "subjectAltName=DNS:$SERVER_NAME" 2>/dev/null
fi

# The server's whole configuration, by environment (values are TOML).
export CONDUWUIT_SERVER_NAME="${CONDUWUIT_SERVER_NAME:-$SERVER_NAME}"
export CONDUWUIT_DATABASE_PATH="${CONDUWUIT_DATABASE_PATH:-/conduwuit/db}"
export CONDUWUIT_PORT="${CONDUWUIT_PORT:-[8008, 8448]}"
export CONDUWUIT_ADDRESS="${CONDUWUIT_ADDRESS:-[\"0.0.0.0\"]}"
export CONDUWUIT_ALLOW_REGISTRATION="${CONDUWUIT_ALLOW_REGISTRATION:-true}"
export CONDUWUIT_YES_I_AM_VERY_VERY_SURE_I_WANT_AN_OPEN_REGISTRATION_SERVER_PRONE_TO_ABUSE="${CONDUWUIT_YES_I_AM_VERY_VERY_SURE_I_WANT_AN_OPEN_REGISTRATION_SERVER_PRONE_TO_ABUSE:-true}"
export CONDUWUIT_REGISTRATION_SHARED_SECRET="${CONDUWUIT_REGISTRATION_SHARED_SECRET:-complement}"
export CONDUWUIT_IP_RANGE_DENYLIST="${CONDUWUIT_IP_RANGE_DENYLIST:-[]}"
export CONDUWUIT_ALLOW_FEDERATION="${CONDUWUIT_ALLOW_FEDERATION:-true}"
# Complement's TestFederationKeyUploadQuery reads a device's display name over
# federation (the Rust conduwuit's Complement config turns this on too).
export CONDUWUIT_ALLOW_DEVICE_NAME_FEDERATION="${CONDUWUIT_ALLOW_DEVICE_NAME_FEDERATION:-true}"
# Joins with partial state (MSC3706) as Synapse makes them: Complement's
# tests/msc3902 (TestPartialStateJoin) test them; the option's default, kept
# explicit so the image tests them whatever the default.
export CONDUWUIT_FEDERATION_PARTIAL_STATE_JOINS="${CONDUWUIT_FEDERATION_PARTIAL_STATE_JOINS:-true}"
# Rate limits off: Complement logs in, registers, sends, joins and invites many
# times a second.
export CONDUWUIT_RATE_LIMIT_LOGIN_PER_SECOND="${CONDUWUIT_RATE_LIMIT_LOGIN_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_REGISTRATION_PER_SECOND="${CONDUWUIT_RATE_LIMIT_REGISTRATION_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_MESSAGE_PER_SECOND="${CONDUWUIT_RATE_LIMIT_MESSAGE_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_ROOM_CREATION_PER_SECOND="${CONDUWUIT_RATE_LIMIT_ROOM_CREATION_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_JOINS_PER_SECOND="${CONDUWUIT_RATE_LIMIT_JOINS_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_INVITES_PER_SECOND="${CONDUWUIT_RATE_LIMIT_INVITES_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_INVITES_RECEIVED_PER_SECOND="${CONDUWUIT_RATE_LIMIT_INVITES_RECEIVED_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_TYPING_PER_SECOND="${CONDUWUIT_RATE_LIMIT_TYPING_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_PRESENCE_PER_SECOND="${CONDUWUIT_RATE_LIMIT_PRESENCE_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_REFRESH_PER_SECOND="${CONDUWUIT_RATE_LIMIT_REFRESH_PER_SECOND:-0}"
export CONDUWUIT_RATE_LIMIT_UIAA_PER_SECOND="${CONDUWUIT_RATE_LIMIT_UIAA_PER_SECOND:-0}"
export CONDUWUIT_TLS__CERTS="${CONDUWUIT_TLS__CERTS:-$TLS_DIR/cert.pem}"
export CONDUWUIT_TLS__KEY="${CONDUWUIT_TLS__KEY:-$TLS_DIR/key.pem}"
export CONDUWUIT_TLS__DUAL_PROTOCOL="${CONDUWUIT_TLS__DUAL_PROTOCOL:-true}"
export CONDUWUIT_LOG="${CONDUWUIT_LOG:-info}"
# No notary: the containers cannot reach matrix.org (the default trusted server), and
# Complement's servers publish their keys themselves.
export CONDUWUIT_TRUSTED_SERVERS="${CONDUWUIT_TRUSTED_SERVERS:-[]}"
# Server notices from @_server:<name>, the sender Complement's TestServerNotices expects
# (Complement's Synapse config uses this localpart).
export CONDUWUIT_SERVER_NOTICES_MXID_LOCALPART="${CONDUWUIT_SERVER_NOTICES_MXID_LOCALPART:-\"_server\"}"
# Complement still tests the legacy unauthenticated /_matrix/media/v3/download with media
# it has just uploaded, which a freeze (the default) answers 404.
export CONDUWUIT_FREEZE_LEGACY_MEDIA="${CONDUWUIT_FREEZE_LEGACY_MEDIA:-false}"
# URL previews are off by default; Complement's TestUrlPreview serves its page from the
# test process, reached from the container as host.docker.internal (as Synapse's
# Complement config enables previews). The empty ip_range_denylist above lets it through.
export CONDUWUIT_URL_PREVIEW_DOMAIN_EXPLICIT_ALLOWLIST="${CONDUWUIT_URL_PREVIEW_DOMAIN_EXPLICIT_ALLOWLIST:-[\"host.docker.internal\"]}"

# Application services: Complement writes each registration of a blueprint with
# appservices to /complement/appservice/<id>.yaml before starting the container.
if [ -d /complement/appservice ]; then
    export CONDUWUIT_APPSERVICE_DIR="${CONDUWUIT_APPSERVICE_DIR:-/complement/appservice}"
fi

# Each value above is only a default: anything Complement passes with
# COMPLEMENT_SHARE_ENV_PREFIX (run.sh uses PASS_) arrives here unprefixed and
# wins, e.g. PASS_CONDUWUIT_LOG=debug complement/run.sh ...
exec "$@"
