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
in
python3Packages.buildPythonApplication {
  pname = "conduwuit-py";
  inherit version;
  pyproject = true;

  # Only what the package needs: a change to the docs or the Nix files does not
  # rebuild it.
  src = lib.fileset.toSource {
    root = src;
    fileset = lib.fileset.unions [
      (src + "/pyproject.toml")
      (src + "/README.md")
      (src + "/conduwuit")
      (src + "/tests")
    ];
  };

  build-system = with python3Packages; [
    setuptools
    wheel
  ];

  dependencies = deps.runtime;
  nativeCheckInputs = [ python3Packages.pytestCheckHook ] ++ deps.test;

  # The sandbox has loopback only, which is all the suite uses; these need
  # tools the build sandbox does not have (strace, systemd-analyze, nix, docker)
  # and skip themselves, but keep them out explicitly.
  disabledTestPaths = [ "tests/packaging" ];
  pythonImportsCheck = [ "conduwuit" ];

  meta = {
    description = "A Matrix homeserver in Python, after conduwuit: one process, an embedded RocksDB";
    homepage = "https://github.com/girlbossceo/conduwuit";
    license = lib.licenses.asl20;
    mainProgram = "conduwuit";
    platforms = lib.platforms.linux;
  };
}
