"""conduwuit (Python): a small, fast Matrix homeserver with an embedded RocksDB."""

__version__ = "0.1.0"
SERVER_NAME = "conduwuit-py"
