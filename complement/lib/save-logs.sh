#!/bin/sh
# COMPLEMENT_POST_TEST_SCRIPT (set by run.sh): Complement calls it for each
# homeserver container before removing it, with the container ID, the test's
# name and whether the test failed. Keeps the server's log of failed tests.
set -eu
container=$1 test=$2 failed=$3
[ "$failed" = true ] || exit 0
dir=${COMPLEMENT_LOG_DIR:?run.sh sets COMPLEMENT_LOG_DIR}
mkdir -p "$dir"
name=$(printf '%s' "$test" | tr -c 'A-Za-z0-9._-' '_')
hs=$(docker inspect -f '{{index .Config.Labels "complement_hs_name"}}' "$container" 2>/dev/null || echo hs)
docker logs --timestamps "$container" >"$dir/$name.$hs.log" 2>&1 || true
