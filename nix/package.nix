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
  # Every Python package the server imports at run time, dependencies included.
  runtimeClosure = python3Packages.requiredPythonModules deps.runtime;
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

  # Run with -OO (no docstrings in memory: ~2 MiB less RSS; nothing in the server
  # reads docstrings or relies on asserts), from bytecode compiled here: the store is
  # read-only, so without it every start would compile every module from source.
  # The -OO bytecode of the server, its dependencies and the standard library goes
  # under one prefix (PYTHONPYCACHEPREFIX), checked by hash only (the store does not
  # change). --set-default: an operator's environment wins.
  makeWrapperArgs = [
    "--set-default"
    "PYTHONOPTIMIZE"
    "2"
    "--set-default"
    "PYTHONPYCACHEPREFIX"
    "${placeholder "out"}/share/conduwuit-py/pycache"
  ];
  # (~21 MiB: the standard library's without its tests, ~12; the dependencies', ~9.)
  postFixup = ''
    compile() {
      PYTHONPYCACHEPREFIX=$out/share/conduwuit-py/pycache \
        ${python3Packages.python.interpreter} -OO -m compileall -q -j 0 \
          --invalidation-mode unchecked-hash "$@" >/dev/null || true
    }
    compile $out/${python3Packages.python.sitePackages} \
      ${lib.concatMapStringsSep " " (p: "${p}/${python3Packages.python.sitePackages}") runtimeClosure}
    compile -x '/(test|tests|idlelib|tkinter|turtledemo|site-packages)/' \
      ${python3Packages.python}/lib/${python3Packages.python.libPrefix}
    test -n "$(find $out/share/conduwuit-py/pycache -name 'server.*.opt-2.pyc')"
  '';
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
