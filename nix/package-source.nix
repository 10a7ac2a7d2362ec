# The package's source: only the files nix/check-phase.json lists, so a change to
# the docs or the Nix files does not rebuild it, and the check phase has exactly
# the inputs its tests read. Returns a lib.fileset file set. Byte code left by a
# local test run (a checkout used without flakes) stays out.
{ lib, src }:
let
  spec = lib.importJSON ./check-phase.json;
  under = paths: lib.fileset.unions (map (p: src + "/${p}") paths);
  byteCode = lib.fileset.unions (
    map (d: lib.fileset.fileFilter (f: f.hasExt "pyc") (src + "/${d}")) [
      "conduwuit"
      "tests"
      "bench"
    ]
  );
in
lib.fileset.difference (under spec.source) (
  lib.fileset.union (under (builtins.attrNames spec.excludeFromSource)) byteCode
)
