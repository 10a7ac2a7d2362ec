"""The `log` option: "info,conduwuit.federation=debug" style filters."""

from __future__ import annotations

import logging
from collections.abc import Iterable

LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": logging.CRITICAL + 10,
}


def parse_log_filter(text: str) -> tuple[int, dict[str, int]]:
    """Return the default level and per-logger levels; ``ValueError`` when malformed.

    Rust-style module paths (``conduwuit::federation``) are accepted as dotted names.
    """
    default = logging.INFO
    per_logger: dict[str, int] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, level = part.partition("=")
        if not sep:
            name, level = "", part
        level_no = LEVELS.get(level.strip().lower())
        if level_no is None:
            raise ValueError(f"unknown log level {level.strip()!r} in {part!r}")
        if name.strip():
            per_logger[name.strip().replace("::", ".")] = level_no
        else:
            default = level_no
    return default, per_logger


def apply_log_filter(text: str, previous: Iterable[str] = ()) -> set[str]:
    """Set the root and per-logger levels from a filter (``ValueError`` when malformed,
    nothing changed then); loggers a ``previous`` filter named and this one does not
    go back to inheriting. Returns the loggers this filter names."""
    default, per_logger = parse_log_filter(text)
    logging.getLogger().setLevel(default)
    for name in set(previous) - set(per_logger):
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
    return set(per_logger)


def setup_logging(text: str) -> None:
    """Configure the root logger from the filter, one line per record on stderr."""
    parse_log_filter(text)  # a malformed filter changes nothing
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s"))
    root.addHandler(handler)
    apply_log_filter(text)
    # aiohttp's own access log duplicates ours.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
