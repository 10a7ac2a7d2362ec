"""The composition root: builds every service from the config and the database.

Each service gets only the collaborators it uses; the API layer's ``routes``
functions get the services they call.
"""

from __future__ import annotations

from dataclasses import dataclass

from conduwuit.api import root, wellknown
from conduwuit.api.client import versions
from conduwuit.api.federation import keys, version
from conduwuit.api.router import Authenticator, Route
from conduwuit.config import GlobalConfig
from conduwuit.db import Database, DatabaseOptions
from conduwuit.db.maps import MAPS
from conduwuit.service.server_keys import ServerKeys


def database_options(config: GlobalConfig) -> DatabaseOptions:
    return DatabaseOptions(
        path=config.database_path,
        compression=config.rocksdb_compression_algo,
        compression_level=config.rocksdb_compression_level,
        bottommost_compression=config.rocksdb_bottommost_compression,
        bottommost_compression_level=config.rocksdb_bottommost_compression_level,
        cache_capacity_mb=config.db_cache_capacity_mb * config.cache_capacity_modifier,
        direct_io=config.rocksdb_direct_io,
        optimize_for_spinning_disks=config.rocksdb_optimize_for_spinning_disks,
        recovery_mode=config.rocksdb_recovery_mode,
        parallelism=config.rocksdb_parallelism_threads,
        log_level=config.rocksdb_log_level,
        max_log_file_size=config.rocksdb_max_log_file_size,
        log_time_to_roll=config.rocksdb_log_time_to_roll,
        max_log_files=config.rocksdb_max_log_files,
        backup_path=config.database_backup_path,
        backups_to_keep=config.database_backups_to_keep,
    )


@dataclass
class Services:
    config: GlobalConfig
    db: Database
    server_keys: ServerKeys
    authenticator: Authenticator | None = None

    @classmethod
    def open(cls, config: GlobalConfig) -> Services:
        db = Database.open(database_options(config))
        try:
            server_keys = ServerKeys(config.server_name, db.map(MAPS.global_))
        except BaseException:
            db.close()
            raise
        return cls(config=config, db=db, server_keys=server_keys)

    def routes(self) -> list[Route]:
        return [
            *root.routes(self.config.server_name),
            *versions.routes(),
            *wellknown.routes(self.config.well_known),
            *version.routes(),
            *keys.routes(self.server_keys),
        ]

    def close(self) -> None:
        self.db.close()
