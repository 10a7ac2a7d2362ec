#!/usr/bin/env bash
# Checks of the Nix code that need no nixpkgs (none can be fetched in CI):
#   1. nix-instantiate --parse on every tracked .nix file (syntax, undefined names);
#   2. the NixOS module's logic (nixos/lib.nix) on sample settings;
#   3. flake.nix's outputs wired against a stand-in nixpkgs;
#   4. flake.lock's pin turned into default.nix's fetchTarball arguments;
#   5. nix/check-real-lib.sh: the NixOS module under nixpkgs' real module system
#      (Nix 2.26 from a Debian 13 tree it builds in nix/.cache/ when absent).
# Installs Debian's nix-bin (Nix 2.8) with apt if nix-instantiate is missing.
# Nothing is built: see docs/deploying/nixos.md for what was built where.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nix-instantiate >/dev/null; then
    command -v apt-get >/dev/null || { echo "nix/check.sh: need nix-instantiate (or apt-get to install nix-bin)" >&2; exit 1; }
    echo "nix/check.sh: installing nix-bin" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nix-bin >/dev/null
fi
# Evaluation only: keep Nix's state out of /nix/var if it is not writable.
if [ -z "${NIX_STATE_DIR:-}" ]; then
    NIX_STATE_DIR=$(mktemp -d)
    trap 'rm -rf "$NIX_STATE_DIR"' EXIT
    export NIX_STATE_DIR
fi
export NIX_CONFIG="experimental-features = nix-command"
echo "nix/check.sh: $(nix-instantiate --version)"

failed=0
files=$(git ls-files '*.nix' 2>/dev/null || find . -name '*.nix' -not -path './.venv/*')
count=0
for f in $files; do
    count=$((count + 1))
    if ! out=$(nix-instantiate --parse "$f" 2>&1 >/dev/null); then
        echo "FAIL parse $f"; echo "$out"; failed=$((failed + 1))
    fi
done
echo "nix/check.sh: parsed $count .nix files"

check() { # check NAME EXPR
    local out
    if out=$(nix-instantiate --eval --strict --json -E "$2" 2>&1); then
        echo "ok   $1"
    else
        echo "FAIL $1"; echo "$out"; failed=$((failed + 1))
    fi
}
check "module logic (nix/tests/module-logic.nix)" 'import ./nix/tests/module-logic.nix {}'
check "flake outputs (nix/tests/flake-outputs.nix)" 'import ./nix/tests/flake-outputs.nix'
check "flake.lock -> default.nix fetchTarball" \
    'let a = import ./nix/nixpkgs-src.nix; in assert builtins.match "https://.*/archive/[0-9a-f]{40}[.]tar[.]gz" a.url != null; assert builtins.match "sha256-[A-Za-z0-9+/]{43}=" a.sha256 != null; a'
check "nix/version.nix" 'import ./nix/version.nix'

passed=$(( $(echo "$files" | wc -w) + 4 - failed ))
echo "nix: $passed passed, $failed failed"
real=0
bash nix/check-real-lib.sh || real=1
[ "$failed" = 0 ] && [ "$real" = 0 ]
