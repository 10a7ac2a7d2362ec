"""One OpenAPI document from the Matrix spec's client-server YAML files.

The spec ships one OpenAPI file per area (``room_send.yaml``, ``sync.yaml``, ...), each
with its own ``servers`` base path (``/_matrix/client/v3`` or ``v1``) and ``$ref``s into
``definitions/`` and ``../../event-schemas/``. A fuzzer wants one document: this module
inlines every ``$ref`` (a reference cycle becomes the empty schema, which allows
anything), prefixes each path with its file's base path, and merges the files.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
#: The spec directory, relative to the repository root; ``MATRIX_SPEC_CS_DIR`` overrides it.
DEFAULT_SPEC_DIR = Path("..") / "shared" / "matrix-spec" / "data" / "api" / "client-server"
SPEC_DIR_ENV = "MATRIX_SPEC_CS_DIR"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def spec_dir() -> Path:
    configured = os.environ.get(SPEC_DIR_ENV)
    path = Path(configured) if configured else DEFAULT_SPEC_DIR
    return path if path.is_absolute() else (REPO / path).resolve()


class _Resolver:
    """Inlines ``$ref``s across files; each file is parsed once."""

    def __init__(self) -> None:
        self._files: dict[Path, Any] = {}

    def load(self, path: Path) -> Any:
        path = path.resolve()
        if path not in self._files:
            with path.open(encoding="utf-8") as handle:
                self._files[path] = yaml.safe_load(handle)
        return self._files[path]

    def resolve(self, node: Any, base: Path, stack: tuple[tuple[Path, str], ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, base, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            target_file, _, pointer = ref.partition("#")
            path = (base.parent / target_file).resolve() if target_file else base.resolve()
            key = (path, pointer)
            if key in stack:
                return {}  # a recursive schema: accept anything below this point
            target = _follow(self.load(path), pointer)
            resolved = self.resolve(copy.deepcopy(target), path, (*stack, key))
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings and isinstance(resolved, dict):
                resolved = {**resolved, **self.resolve(siblings, base, stack)}
            return resolved
        return {key: self.resolve(value, base, stack) for key, value in node.items()}


def _follow(document: Any, pointer: str) -> Any:
    node = document
    for part in (p for p in pointer.split("/") if p):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _base_path(document: dict[str, Any]) -> str:
    for server in document.get("servers", []):
        variables = server.get("variables", {})
        if "basePath" in variables:
            return str(variables["basePath"]["default"]).rstrip("/")
    return ""


def assemble(directory: Path | None = None) -> dict[str, Any]:
    """The client-server API as one self-contained OpenAPI 3.1 document."""
    directory = directory or spec_dir()
    resolver = _Resolver()
    paths: dict[str, dict[str, Any]] = {}
    schemes: dict[str, Any] = {}
    for file in sorted(directory.glob("*.yaml")):
        raw = resolver.load(file)
        if not isinstance(raw, dict) or "paths" not in raw:
            continue
        document = resolver.resolve(raw, file)
        prefix = _base_path(document)
        schemes.update(document.get("components", {}).get("securitySchemes", {}))
        for path, item in (document.get("paths") or {}).items():
            # The spec writes a second definition of one path with a trailing space
            # (peeking /events beside the deprecated /events): the first one wins.
            merged = paths.setdefault(prefix + path.strip(), {})
            for method, operation in item.items():
                merged.setdefault(method, operation)
    if not paths:
        raise FileNotFoundError(f"no OpenAPI files with paths under {directory}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Matrix client-server API (assembled)", "version": "1.0.0"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"securitySchemes": schemes},
    }


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (METHOD, path) the document defines, sorted."""
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    )
