from tests.http.conftest import hs, start

__all__ = ["hs", "start"]
