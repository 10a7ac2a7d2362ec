from tests.http.conftest import hs, start
from tests.http.federation.conftest import ca, fed_hs, remote

__all__ = ["ca", "fed_hs", "hs", "remote", "start"]
