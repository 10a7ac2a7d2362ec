"""Errors raised by the database layer."""

from __future__ import annotations


class DatabaseError(Exception):
    """A database could not be opened or used as asked."""


class DatabaseInUseError(DatabaseError):
    """Another process holds the RocksDB lock on this database directory."""


class SchemaVersionError(DatabaseError):
    """The stored schema version is newer than this code knows how to read."""
