"""Server-side key backups (spec: "Server-side key backups", /room_keys/*).

Versions are global stream counts: increasing, never reused, and the newest one is
the only one keys can be written to. Each version has an etag, the count of the
last change to its keys; like Synapse, a write that changes nothing keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.errors import ErrCode, MatrixError, bad_json, invalid_param, not_found
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import SEP, U64_MAX, from_u64, key, prefix, prefix_end, u64

JsonDict = dict[str, Any]

MEGOLM_BACKUP_V1 = "m.megolm_backup.v1.curve25519-aes-sha2"


def _dump(value: Any) -> bytes:
    try:
        return canonical_json.encode(value)
    except canonical_json.CanonicalJsonError as exc:
        raise bad_json(f"Not canonical JSON: {exc}") from None


def _parse_version(version: str) -> int:
    if not version.isascii() or not version.isdigit() or int(version) > U64_MAX:
        raise not_found("Unknown backup version")
    return int(version)


def check_auth_data(algorithm: Any, auth_data: Any) -> None:
    """The version's algorithm and auth_data: known algorithms are checked in full.

    Other algorithms are stored as given, as Synapse does, so clients can use
    backup algorithms newer than this server.
    """
    if not isinstance(algorithm, str) or not algorithm:
        raise bad_json("algorithm must be a non-empty string")
    if not isinstance(auth_data, dict):
        raise bad_json("auth_data must be an object")
    if algorithm == MEGOLM_BACKUP_V1:
        if not isinstance(auth_data.get("public_key"), str):
            raise bad_json("auth_data.public_key must be a string")
        if not isinstance(auth_data.get("signatures", {}), dict):
            raise bad_json("auth_data.signatures must be an object")


def check_key_data(data: Any) -> JsonDict:
    """A KeyBackupData object, or M_BAD_JSON."""
    if not isinstance(data, dict):
        raise bad_json("key data must be an object")
    for field in ("first_message_index", "forwarded_count"):
        value = data.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad_json(f"{field} must be a non-negative integer")
    if not isinstance(data.get("is_verified"), bool):
        raise bad_json("is_verified must be a boolean")
    if not isinstance(data.get("session_data"), dict):
        raise bad_json("session_data must be an object")
    return data


def should_replace(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The spec's rule: keep the verified key, then the lower first_message_index,
    then the lower forwarded_count; on a tie keep the stored key (as Synapse does)."""
    if old["is_verified"] != new["is_verified"]:
        return bool(new["is_verified"])
    if old["first_message_index"] != new["first_message_index"]:
        return bool(new["first_message_index"] < old["first_message_index"])
    return bool(new["forwarded_count"] < old["forwarded_count"])


class KeyBackups:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._versions = db.map(MAPS.backupid_algorithm)
        self._etags = db.map(MAPS.backupid_etag)
        self._keys = db.map(MAPS.backupkeyid_backup)

    # -- versions -----------------------------------------------------------------------
    def latest_version(self, user_id: str) -> int | None:
        p = prefix(user_id)
        for k, _ in self._versions.iter_prefix(p, reverse=True):
            return from_u64(k[len(p) :])
        return None

    def _record(self, user_id: str, version: int) -> JsonDict | None:
        raw = self._versions.get(key(user_id, version))
        if raw is None:
            return None
        value: JsonDict = json.loads(raw)
        return value

    def create_version(self, user_id: str, algorithm: Any, auth_data: Any) -> str:
        check_auth_data(algorithm, auth_data)
        with self._db.batch() as b:
            version = b.next_count()
            record = {"algorithm": algorithm, "auth_data": auth_data}
            b.put(self._versions, key(user_id, version), _dump(record))
            b.put(self._etags, key(user_id, version), u64(version))
        return str(version)

    def get_version(self, user_id: str, version: str | None = None) -> JsonDict:
        """GET /room_keys/version[/{version}]: the version's info, count and etag."""
        if version is None:
            number = self.latest_version(user_id)
            if number is None:
                raise not_found("No current backup version")
        else:
            number = _parse_version(version)
        record = self._record(user_id, number)
        if record is None:
            raise not_found("Unknown backup version")
        return {**record, "version": str(number), **self._etag_and_count(user_id, number)}

    def update_version(
        self, user_id: str, version: str, algorithm: Any, auth_data: Any, body_version: Any
    ) -> None:
        number = _parse_version(version)
        record = self._record(user_id, number)
        if record is None:
            raise not_found("Unknown backup version")
        if body_version is not None and body_version != version:
            raise invalid_param("version in the body does not match the path")
        check_auth_data(algorithm, auth_data)
        if algorithm != record["algorithm"]:
            raise invalid_param("algorithm does not match the backup's algorithm")
        self._versions.put(
            key(user_id, number), _dump({"algorithm": algorithm, "auth_data": auth_data})
        )

    def delete_version(self, user_id: str, version: str) -> None:
        number = _parse_version(version)
        if self._record(user_id, number) is None:
            raise not_found("Unknown backup version")
        with self._db.batch() as b:
            b.delete(self._versions, key(user_id, number))
            b.delete(self._etags, key(user_id, number))
            self._stage_delete_keys(b, prefix(user_id, number))

    def _etag_and_count(self, user_id: str, version: int) -> JsonDict:
        raw = self._etags.get(key(user_id, version))
        etag = from_u64(raw) if raw else version
        return {"etag": str(etag), "count": self._keys.count_prefix(prefix(user_id, version))}

    def _writable(self, user_id: str, version: str) -> int:
        """A version keys may be written to: it exists and is the newest."""
        number = _parse_version(version)
        latest = self.latest_version(user_id)
        if latest is None or self._record(user_id, number) is None:
            raise not_found("Unknown backup version")
        if number != latest:
            raise MatrixError(
                ErrCode.WRONG_ROOM_KEYS_VERSION,
                "Wrong backup version.",
                status=403,
                current_version=str(latest),
            )
        return number

    def _existing(self, user_id: str, version: str) -> int:
        number = _parse_version(version)
        if self._record(user_id, number) is None:
            raise not_found("Unknown backup version")
        return number

    # -- keys ---------------------------------------------------------------------------
    def put_keys(
        self, user_id: str, version: str, rooms: Mapping[str, Mapping[str, Any]]
    ) -> JsonDict:
        """Store ``{room: {session: KeyBackupData}}`` by the spec's replacement rule."""
        number = self._writable(user_id, version)
        writes: list[tuple[bytes, bytes]] = []
        for room_id, sessions in rooms.items():
            if not isinstance(sessions, dict):
                raise bad_json(f"sessions of {room_id} must be an object")
            for session_id, data in sessions.items():
                new = check_key_data(data)
                k = key(user_id, number, room_id, session_id)
                raw = self._keys.get(k)
                if raw is None or should_replace(json.loads(raw), new):
                    writes.append((k, _dump(new)))
        if writes:
            with self._db.batch() as b:
                for k, v in writes:
                    b.put(self._keys, k, v)
                b.put(self._etags, key(user_id, number), u64(b.next_count()))
        return self._etag_and_count(user_id, number)

    def get_keys(
        self, user_id: str, version: str, room_id: str | None = None, session_id: str | None = None
    ) -> JsonDict:
        """The backup's keys: all rooms, one room (``{"sessions": ...}``), or one session.

        A room without keys is ``{"sessions": {}}`` and an unknown session M_NOT_FOUND,
        as Synapse answers.
        """
        number = self._existing(user_id, version)
        if room_id is not None and session_id is not None:
            raw = self._keys.get(key(user_id, number, room_id, session_id))
            if raw is None:
                raise not_found("Key not found.")
            found: JsonDict = json.loads(raw)
            return found
        p = prefix(user_id, number) if room_id is None else prefix(user_id, number, room_id)
        base = len(prefix(user_id, number))
        rooms: dict[str, JsonDict] = {}
        for k, v in self._keys.iter_prefix(p):
            room, session = k[base:].split(SEP, 1)
            sessions = rooms.setdefault(room.decode(), {"sessions": {}})["sessions"]
            sessions[session.decode()] = json.loads(v)
        if room_id is not None:
            return rooms.get(room_id, {"sessions": {}})
        return {"rooms": rooms}

    def delete_keys(
        self, user_id: str, version: str, room_id: str | None = None, session_id: str | None = None
    ) -> JsonDict:
        number = self._existing(user_id, version)
        with self._db.batch() as b:
            if room_id is not None and session_id is not None:
                b.delete(self._keys, key(user_id, number, room_id, session_id))
            elif room_id is not None:
                self._stage_delete_keys(b, prefix(user_id, number, room_id))
            else:
                self._stage_delete_keys(b, prefix(user_id, number))
            b.put(self._etags, key(user_id, number), u64(b.next_count()))
        return self._etag_and_count(user_id, number)

    def stage_delete_user(self, b: Batch, user_id: str) -> None:
        """Every backup version and key of a user (account deactivation, as Synapse)."""
        p = prefix(user_id)
        end = prefix_end(p)
        assert end is not None
        for m in (self._versions, self._etags, self._keys):
            b.delete_range(m, p, end)

    def _stage_delete_keys(self, b: Batch, p: bytes) -> None:
        end = prefix_end(p)
        assert end is not None
        b.delete_range(self._keys, p, end)
