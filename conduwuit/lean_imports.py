"""Importing aiohttp without the CA store it loads at import (issue 21).

``aiohttp.connector`` builds two default client TLS contexts when it is imported,
loading the system's CAs into the verifying one: ~1.9 MiB of RSS an idle server
holds for nothing, since the server passes its own context, built on first use,
to every HTTPS request it makes (``conduwuit/service/tls.py``). So the serving
process imports aiohttp with OpenSSL's CA locations pointed at nothing; aiohttp's
defaults then trust no one, and a request that forgot its context fails its
certificate check instead of succeeding (never the other way round). The
environment is put back as it was straight after.
"""

from __future__ import annotations

import os
import sys

#: OpenSSL's environment variables for its default CA file and directory.
_CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_NOWHERE = "/nonexistent/conduwuit-no-default-cas"


def import_aiohttp_without_default_cas() -> bool:
    """Import aiohttp, its default contexts holding no CAs; False when it was
    already imported (nothing changes then)."""
    if "aiohttp" in sys.modules:
        return False
    saved = {name: os.environ.get(name) for name in _CA_VARIABLES}
    try:
        for name in _CA_VARIABLES:
            os.environ[name] = _NOWHERE
        import aiohttp.connector  # noqa: F401  (builds the default contexts)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return True
