# The server as a Python application, from pyproject.toml, with nixpkgs'
# Python packages. callPackage'd by flake.nix and default.nix.
{
  lib,
  python3Packages,
  src ? ../.,
  version ? "0.1.0",
}:

let
  deps = import ./python-deps.nix python3Packages;
  spec = lib.importJSON ./check-phase.json;
in
python3Packages.buildPythonApplication {
  pname = "conduwuit-py";
  inherit version;
  pyproject = true;

  src = lib.fileset.toSource {
    root = src;
    fileset = import ./package-source.nix { inherit lib src; };
  };

  build-system = with python3Packages; [
    setuptools
    wheel
  ];

  dependencies = deps.runtime;
  nativeCheckInputs = [ python3Packages.pytestCheckHook ] ++ deps.test;

  # The sandbox has loopback only, which is all the suite uses. What cannot run
  # there (Node, Synapse, the fuzzer, the packaging checks' tools) is listed with
  # its reason in check-phase.json; tests/packaging/test_check_phase.py runs the
  # same selection outside Nix on a copy of the same files.
  disabledTestPaths = builtins.attrNames spec.disabledTestPaths;
  disabledTests = builtins.attrNames spec.disabledTests;
  pythonImportsCheck = [ "conduwuit" ];

  meta = {
    description = "A Matrix homeserver in Python, after conduwuit: one process, an embedded RocksDB";
    homepage = "https://github.com/girlbossceo/conduwuit";
    license = lib.licenses.asl20;
    mainProgram = "conduwuit";
    platforms = lib.platforms.linux;
  };
}
