# The Python dependencies from nixpkgs, shared by the package (nix/package.nix)
# and the development shell (flake.nix). Mirrors pyproject.toml.
ps: {
  runtime = with ps; [
    aiohttp
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
    # [compression]
    brotli
    zstandard
  ];
  test = with ps; [
    pytest
    pytest-asyncio
    hypothesis
    matrix-nio
    trustme
  ];
  dev = with ps; [
    ruff
    mypy
  ];
}
