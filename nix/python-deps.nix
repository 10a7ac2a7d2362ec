# The Python dependencies from nixpkgs, shared by the package (nix/package.nix)
# and the development shell (flake.nix). Mirrors pyproject.toml.
ps: {
  runtime = with ps; [
    aiohttp
    yarl
    rocksdict
    pynacl
    canonicaljson
    pydantic
    jinja2
    argon2-cffi
    dnspython
    uvloop
    tomli-w
    pillow
    pyyaml
    prometheus-client
    # [compression]
    brotli
    zstandard
  ];
  test = with ps; [
    pytest
    pytest-asyncio
    hypothesis
    # Without its e2e extra (python-olm; nixpkgs marks libolm insecure): the
    # tests that need nio.crypto or vodozemac skip themselves.
    matrix-nio
    trustme
    signedjson
  ];
  dev = with ps; [
    ruff
    mypy
  ];
}
