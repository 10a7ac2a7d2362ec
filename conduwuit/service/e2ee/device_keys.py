"""Device identity keys, one-time keys and fallback keys of local devices.

Spec: POST /keys/upload, /keys/query, /keys/claim. Every method validates all of
its input before it writes, then writes in one batch, so a refused request
changes nothing. Methods are synchronous (no await between read and write), so
two claims on the event loop can never hand out the same one-time key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.e2e_keys import (
    ED25519,
    check_device_keys,
    check_one_time_key,
    split_key_id,
    stripped,
)
from conduwuit.core.errors import bad_json, invalid_param
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import SEP, from_u64, key, prefix, u64
from conduwuit.service.e2ee.device_lists import DeviceLists, DeviceUpdate
from conduwuit.service.e2ee.ports import DeviceDirectory, Wake, no_wake

#: Synapse always reports this algorithm's count, 0 included: older libolm clients
#: only upload new keys when they see the count drop, and treat absence as "unknown".
ALWAYS_COUNTED = "signed_curve25519"

JsonDict = dict[str, Any]


def _dump(value: Any) -> bytes:
    try:
        return canonical_json.encode(value)
    except canonical_json.CanonicalJsonError as exc:
        raise bad_json(f"Keys must be canonical JSON: {exc}") from None


class DeviceKeys:
    def __init__(
        self,
        db: Database,
        devices: DeviceDirectory,
        device_lists: DeviceLists,
        *,
        wake: Wake = no_wake,
    ) -> None:
        self._db = db
        self._devices = devices
        self._device_lists = device_lists
        self._wake = wake
        self._device_keys = db.map(MAPS.userdeviceid_devicekeys)
        self._one_time = db.map(MAPS.onetimekeyid_onetimekeys)
        self._fallback = db.map(MAPS.userdeviceid_fallbackkeys)
        self._last_otk_update = db.map(MAPS.userid_lastonetimekeyupdate)

    # -- device identity keys ---------------------------------------------------------
    def get(self, user_id: str, device_id: str) -> JsonDict | None:
        raw = self._device_keys.get(key(user_id, device_id))
        if raw is None:
            return None
        value: JsonDict = json.loads(raw)
        return value

    def all_for_user(self, user_id: str) -> dict[str, JsonDict]:
        p = prefix(user_id)
        return {k[len(p) :].decode(): json.loads(v) for k, v in self._device_keys.iter_prefix(p)}

    def ed25519_key(self, user_id: str, device_id: str) -> str | None:
        stored = self.get(user_id, device_id)
        if stored is None:
            return None
        found = stored.get("keys", {}).get(f"{ED25519}:{device_id}")
        return found if isinstance(found, str) else None

    def stage_add_signatures(
        self, b: Batch, user_id: str, device_id: str, signatures: Mapping[str, Mapping[str, str]]
    ) -> JsonDict | None:
        """Merge signatures into a device's stored keys; the new keys if anything was new."""
        stored = self.get(user_id, device_id)
        if stored is None:
            return None
        merged = _merge_signatures(stored.get("signatures", {}), signatures)
        if merged == stored.get("signatures", {}):
            return None
        stored["signatures"] = merged
        b.put(self._device_keys, key(user_id, device_id), _dump(stored))
        return stored

    # -- upload ----------------------------------------------------------------------
    def upload(
        self,
        user_id: str,
        device_id: str,
        *,
        device_keys: Any = None,
        one_time_keys: Any = None,
        fallback_keys: Any = None,
    ) -> dict[str, int]:
        """POST /keys/upload; returns the device's one-time key counts."""
        stored = self.get(user_id, device_id)
        new_device_keys: JsonDict | None = None
        ed25519_key = self.ed25519_key(user_id, device_id)
        if device_keys is not None:
            ed25519_key = check_device_keys(device_keys, user_id, device_id)
            new_device_keys = _device_keys_to_store(stored, device_keys)
        otks = self._new_one_time_keys(user_id, device_id, one_time_keys, ed25519_key)
        fallbacks = self._new_fallback_keys(user_id, device_id, fallback_keys, ed25519_key)

        woken: set[str] = set()
        with self._db.batch() as b:
            if new_device_keys is not None:
                b.put(self._device_keys, key(user_id, device_id), _dump(new_device_keys))
                update = DeviceUpdate(device_id, new_device_keys)
                woken |= self._device_lists.stage_key_change(b, user_id, [update])
            if otks or fallbacks:
                n = b.next_count()
                for algorithm, key_id, value in otks:
                    b.put(self._one_time, key(user_id, device_id, algorithm, n, key_id), value)
                for algorithm, record in fallbacks.items():
                    b.put(self._fallback, key(user_id, device_id, algorithm), _dump(record))
                b.put(self._last_otk_update, user_id.encode(), u64(n))
        self._wake(woken)
        return self.one_time_key_counts(user_id, device_id)

    def _new_one_time_keys(
        self, user_id: str, device_id: str, keys: Any, ed25519_key: str | None
    ) -> list[tuple[str, str, bytes]]:
        """Validated one-time keys not stored yet, as ``(algorithm, key_id, value)``.

        Uploading a key ID again with the same key is a no-op (a retried request);
        with a different key it is refused, as Synapse does.
        """
        if keys is None:
            return []
        if not isinstance(keys, dict):
            raise invalid_param("one_time_keys must be an object")
        existing: dict[tuple[str, str], Any] = {}
        p = prefix(user_id, device_id)
        for k, v in self._one_time.iter_prefix(p):
            raw_algorithm, rest = k[len(p) :].split(SEP, 1)
            existing[(raw_algorithm.decode(), rest[8 + len(SEP) :].decode())] = json.loads(v)
        new: list[tuple[str, str, bytes]] = []
        for full_id, value in keys.items():
            check_one_time_key(full_id, value, user_id, device_id, ed25519_key)
            algorithm, key_id = split_key_id(full_id)
            old = existing.get((algorithm, key_id))
            if old is not None:
                if not _same_key(old, value):
                    raise invalid_param(f"One-time key {full_id} already exists with another key")
                continue
            new.append((algorithm, key_id, _dump(value)))
        return new

    def _new_fallback_keys(
        self, user_id: str, device_id: str, keys: Any, ed25519_key: str | None
    ) -> dict[str, JsonDict]:
        """Validated fallback keys to store, by algorithm: at most one per algorithm.

        Re-uploading the stored key keeps its "used" flag (as Synapse does), so a
        retried upload does not hide that the key was used.
        """
        if keys is None:
            return {}
        if not isinstance(keys, dict):
            raise invalid_param("fallback_keys must be an object")
        records: dict[str, JsonDict] = {}
        for full_id, value in keys.items():
            check_one_time_key(full_id, value, user_id, device_id, ed25519_key)
            algorithm, key_id = split_key_id(full_id)
            if algorithm in records:
                raise invalid_param(f"More than one fallback key for {algorithm}")
            old = self._fallback_record(user_id, device_id, algorithm)
            used = (
                old is not None
                and old["key_id"] == key_id
                and _same_key(old["key"], value)
                and bool(old["used"])
            )
            records[algorithm] = {"key_id": key_id, "key": value, "used": used}
        return records

    def _fallback_record(self, user_id: str, device_id: str, algorithm: str) -> JsonDict | None:
        raw = self._fallback.get(key(user_id, device_id, algorithm))
        if raw is None:
            return None
        value: JsonDict = json.loads(raw)
        return value

    # -- counts (for /keys/upload and /sync) ----------------------------------------------
    def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]:
        """Unclaimed one-time keys of a device per algorithm."""
        counts: dict[str, int] = {ALWAYS_COUNTED: 0}
        p = prefix(user_id, device_id)
        for k, _ in self._one_time.iter_prefix(p):
            algorithm = k[len(p) :].split(SEP, 1)[0].decode()
            counts[algorithm] = counts.get(algorithm, 0) + 1
        return counts

    def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]:
        """Algorithms with a fallback key that no claim has handed out yet."""
        p = prefix(user_id, device_id)
        return sorted(
            k[len(p) :].decode()
            for k, v in self._fallback.iter_prefix(p)
            if not json.loads(v)["used"]
        )

    def last_one_time_keys_update(self, user_id: str) -> int:
        """Stream position of the last upload or claim of a key of any of the user's devices."""
        raw = self._last_otk_update.get(user_id.encode())
        return from_u64(raw) if raw else 0

    # -- claim -------------------------------------------------------------------------
    def claim(self, wanted: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, JsonDict]]:
        """POST /keys/claim for local users: ``{user: {device: algorithm}}``.

        The oldest unclaimed one-time key of the algorithm, else the fallback key
        (which stays, marked used). Devices with neither are left out of the result,
        as the spec says for unknown devices. One batch for the whole request.
        """
        result: dict[str, dict[str, JsonDict]] = {}
        claimed_users: set[str] = set()
        with self._db.batch() as b:
            n: int | None = None
            for user_id, devices in wanted.items():
                for device_id, algorithm in devices.items():
                    got = self._stage_claim_one(b, user_id, device_id, algorithm)
                    if got is None:
                        continue
                    result.setdefault(user_id, {})[device_id] = got
                    if user_id not in claimed_users:
                        n = n if n is not None else b.next_count()
                        b.put(self._last_otk_update, user_id.encode(), u64(n))
                        claimed_users.add(user_id)
        self._wake(claimed_users)
        return result

    def _stage_claim_one(
        self, b: Batch, user_id: str, device_id: str, algorithm: str
    ) -> JsonDict | None:
        if not algorithm:
            return None
        p = prefix(user_id, device_id, algorithm)
        for k, v in self._one_time.iter_prefix(p):
            key_id = k[len(p) + 8 + len(SEP) :].decode()
            b.delete(self._one_time, k)
            return {f"{algorithm}:{key_id}": json.loads(v)}
        record = self._fallback_record(user_id, device_id, algorithm)
        if record is None:
            return None
        if not record["used"]:
            b.put(
                self._fallback, key(user_id, device_id, algorithm), _dump({**record, "used": True})
            )
        return {f"{algorithm}:{record['key_id']}": record["key"]}

    # -- query -------------------------------------------------------------------------
    def query_user(self, user_id: str, device_ids: list[str]) -> dict[str, JsonDict]:
        """Device keys of a local user for /keys/query (all devices if ``device_ids`` is
        empty), with ``unsigned.device_display_name`` from the devices service."""
        if device_ids:
            found = {d: k for d in dict.fromkeys(device_ids) if (k := self.get(user_id, d))}
        else:
            found = self.all_for_user(user_id)
        for device_id, keys in found.items():
            device = self._devices.get(user_id, device_id)
            if device is not None and device.display_name is not None:
                keys["unsigned"] = {"device_display_name": device.display_name}
        return found

    # -- device removal ----------------------------------------------------------------
    def stage_delete_device(self, b: Batch, user_id: str, device_id: str) -> bool:
        """Stage deleting every key of a device; whether it had identity keys."""
        had_keys = self._device_keys.contains(key(user_id, device_id))
        b.delete(self._device_keys, key(user_id, device_id))
        p = prefix(user_id, device_id)
        for k, _ in self._one_time.iter_prefix(p):
            b.delete(self._one_time, k)
        for k, _ in self._fallback.iter_prefix(p):
            b.delete(self._fallback, k)
        return had_keys


def _same_key(old: Any, new: Any) -> bool:
    """Two uploads of a one-time key match if they differ at most in signatures."""
    if isinstance(old, dict) and isinstance(new, dict):
        return stripped(old) == stripped(new)
    return bool(old == new)


def _merge_signatures(
    old: Mapping[str, Mapping[str, str]], new: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    merged = {user: dict(sigs) for user, sigs in old.items()}
    for user, sigs in new.items():
        merged.setdefault(user, {}).update(sigs)
    return merged


def _device_keys_to_store(stored: JsonDict | None, uploaded: JsonDict) -> JsonDict | None:
    """What to store for uploaded device keys, or None if nothing changes.

    The same keys again keep the signatures stored since (e.g. by the self-signing
    key) and add any new ones; different keys replace the old ones entirely, as
    Synapse and conduwuit do.
    """
    upload = stripped(uploaded)
    upload["signatures"] = uploaded.get("signatures", {})
    if stored is None or stripped(stored) != stripped(upload):
        return upload
    merged = _merge_signatures(stored.get("signatures", {}), upload["signatures"])
    if merged == stored.get("signatures", {}):
        return None
    return {**stored, "signatures": merged}
