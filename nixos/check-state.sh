#!/bin/sh
# ExecStartPre of the NixOS module (as root): refuse to start on a database this
# module did not create, rather than let the server open it.
#   check-state.sh STATE_DIR OLD_DIR...
# STATE_DIR is the service's StateDirectory (the server's database_path);
# OLD_DIR are where a database this module must not take silently may be:
# /var/lib/private/conduwuit holds nixpkgs' (removed) services.conduwuit's
# database (the Rust conduwuit, whose RocksDB this server cannot read), or this
# module's own from before its rename to services.conduwuit-py.
#
# STATE_DIR/.conduwuit-py marks a state directory as this module's: written when
# the directory is new and no old database exists, or by the admin (see below).
# Exit 0 to start, 1 (with the reason on stderr, in the journal) to refuse.
set -eu
state=$1
shift
marker="$state/.conduwuit-py"

[ -e "$marker" ] && exit 0

if [ -e "$state/CURRENT" ]; then
    cat >&2 <<EOF
conduwuit-py: refusing to start: $state holds a RocksDB database that this
module did not create (there is no $marker).
If it is a conduwuit (Python) database (for example moved from this module's old
state directory), mark it and start again:
    touch $marker
A database of the Rust conduwuit (or continuwuity) cannot be opened by this server:
move it elsewhere and start again for a new, empty server.
EOF
    exit 1
fi

for old in "$@"; do
    if [ -e "$old/CURRENT" ]; then
        cat >&2 <<EOF
conduwuit-py: refusing to start: $old holds a database, and this server's state
directory $state has none. It is not used automatically: it may be the Rust
conduwuit's (nixpkgs' removed services.conduwuit), which this server cannot open.
- If it is this server's (from services.conduwuit of this project, before the
  rename to services.conduwuit-py), copy it over and start again (remove $old
  once the server runs):
      cp -a $old/. $state/ && touch $marker
- To start a new, empty server and leave $old alone:
      touch $marker
EOF
        exit 1
    fi
done

touch "$marker"
