"""Unpadded base64, as the Matrix spec uses it (appendices: "Unpadded Base64").

Decoding accepts padded and unpadded input, standard and URL-safe alphabets are
separate functions because room versions 4+ use the URL-safe one for event IDs.
"""

from __future__ import annotations

import base64
import binascii


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def encode_urlsafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def decode(text: str) -> bytes:
    """Decode standard-alphabet base64, padded or not; ``ValueError`` on bad input."""
    try:
        return base64.b64decode(_pad(text.strip()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64: {exc}") from None
