"""How media is served safely: inline or attachment, and a sanitised file name.

Spec v1.11, content repository, "Serving inline content": a server SHOULD serve
``Content-Disposition: inline`` only for the listed types, which are unlikely to
cause cross-site scripting when a ``Content-Type`` is given; everything else (SVG
and HTML among them) is an attachment. The file name goes into the header as a
quoted string when it is plain ASCII, otherwise as RFC 5987/6266 ``filename*``
(``utf-8''`` and percent-encoding), after control characters are dropped and path
separators replaced, so no name can inject a header or a path.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

#: Spec v1.11, content repository, "Serving inline content".
INLINE_TYPES: frozenset[str] = frozenset(
    {
        "text/css",
        "text/plain",
        "text/csv",
        "application/json",
        "application/ld+json",
        "image/jpeg",
        "image/gif",
        "image/png",
        "image/apng",
        "image/webp",
        "image/avif",
        "video/mp4",
        "video/webm",
        "video/ogg",
        "video/quicktime",
        "audio/mp4",
        "audio/webm",
        "audio/aac",
        "audio/mpeg",
        "audio/ogg",
        "audio/wave",
        "audio/wav",
        "audio/x-wav",
        "audio/x-pn-wav",
        "audio/flac",
        "audio/x-flac",
    }
)

#: Characters RFC 5987 allows unencoded in an ext-value (attr-char).
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"


def essence(content_type: str) -> str:
    """``"Text/Plain; charset=utf-8"`` -> ``"text/plain"``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_inline(content_type: str | None) -> bool:
    return content_type is not None and essence(content_type) in INLINE_TYPES


def sanitize_filename(name: str) -> str:
    """Drop control and format characters, replace path separators, trim spaces;
    what remains may be empty."""
    kept = []
    for char in name:
        if char in "/\\":
            kept.append("_")
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            kept.append(char)
    return "".join(kept).strip()


def _plain_ascii(name: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F and c not in '"\\%' for c in name)


def content_disposition(content_type: str | None, filename: str | None) -> str:
    """The Content-Disposition header value for serving media of this type and name."""
    kind = "inline" if is_inline(content_type) else "attachment"
    name = sanitize_filename(filename) if filename else ""
    if not name:
        return kind
    if _plain_ascii(name):
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename*=utf-8''{quote(name, safe=_ATTR_CHAR_SAFE)}"


def valid_content_type(value: str) -> bool:
    """A Content-Type to store and send back: printable ASCII, at most 255 chars."""
    return 0 < len(value) <= 255 and all(0x20 <= ord(c) < 0x7F for c in value)
