#!/usr/bin/env bash
# The NixOS module evaluated by nixpkgs' real module system (nix/tests/real-lib.nix):
# nixpkgs' lib from ../shared/nixpkgs-lib, Nix 2.26 from Debian 13 (current lib
# needs a newer Nix than Debian 12's 2.8), stand-ins for the NixOS options the
# module sets and nixpkgs' rename.nix entry for services.conduwuit.
#   - the evaluations that must succeed (and their own asserts);
#   - the ones that must fail, each with the message NixOS would print.
# Nix 2.26 comes from a `debootstrap --variant=minbase trixie` tree in
# nix/.cache/ (gitignored; about 30 s and 340 MB the first time), run through
# that tree's own dynamic loader: no chroot, no mounts. Called by nix/check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

lib_dir=../shared/nixpkgs-lib/lib
[ -f "$lib_dir/default.nix" ] || { echo "nix/check-real-lib.sh: $lib_dir is missing" >&2; exit 1; }

# The cache is keyed by what goes into it: rebuilt when this key changes.
key="trixie minbase nix-bin libdbi-perl"
root=nix/.cache/trixie
if [ "$(cat "$root/.key" 2>/dev/null)" != "$key" ]; then
    command -v debootstrap >/dev/null || {
        echo "nix/check-real-lib.sh: installing debootstrap" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
    echo "nix/check-real-lib.sh: building $root (Debian 13 with nix-bin)" >&2
    rm -rf "$root" "$root.tmp"
    mkdir -p nix/.cache
    # libdbi-perl: nix-bin's dependency libdbd-sqlite3-perl needs it (perl-dbdabi-94),
    # which the minbase resolver does not pick by itself.
    if ! debootstrap --variant=minbase --include=nix-bin,libdbi-perl trixie "$root.tmp" \
        http://deb.debian.org/debian >nix/.cache/debootstrap.log 2>&1; then
        tail -20 nix/.cache/debootstrap.log >&2
        exit 1
    fi
    echo "$key" >"$root.tmp/.key"
    mv "$root.tmp" "$root"
fi

state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
nix_instantiate() {
    NIX_STATE_DIR=$state NIX_CONFIG="build-users-group =" \
        "$root/lib64/ld-linux-x86-64.so.2" \
        --library-path "$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \
        "$root/usr/bin/nix-instantiate" "$@"
}
echo "nix/check-real-lib.sh: $(nix_instantiate --version), nixpkgs lib $(cut -c1-12 ../shared/nixpkgs-lib/COMMIT)"

failed=0
passed=0
real_lib() { echo "import ./nix/tests/real-lib.nix { lib = import $lib_dir; $1 }"; }

if out=$(nix_instantiate --eval --strict --json -E "$(real_lib "")" 2>&1); then
    echo "ok   module evaluates (real lib): enabled, disabled, unix socket + proxy group, Pi image (images/rpi.nix), VM test node"
    passed=$((passed + 1))
else
    echo "FAIL module evaluates (real lib)"; echo "$out"; failed=$((failed + 1))
fi

must_fail() { # must_fail CASE MESSAGE
    local out
    if out=$(nix_instantiate --eval --strict --json -E "$(real_lib "case = \"$1\";")" 2>&1); then
        echo "FAIL $1: evaluated, but must fail with: $2"; failed=$((failed + 1))
    elif grep -qF -- "$2" <<<"$out"; then
        echo "ok   $1 fails: $2"; passed=$((passed + 1))
    else
        echo "FAIL $1: failed, but without: $2"; echo "$out"; failed=$((failed + 1))
    fi
}
must_fail old-namespace "The option \`services.conduwuit' in module"
must_fail old-namespace "would be a parent of the following options, but its type"
must_fail missing-group "services.conduwuit-py.group: the group nginx must exist"
must_fail function-in-settings "is not of type \`TOML value (null: left out)'"
must_fail socket-and-address "set either settings.global.unix_socket_path or settings.global.address"

echo "nix (real lib): $passed passed, $failed failed"
[ "$failed" = 0 ]
