"""Cross-signing keys and the signatures users upload on keys.

Spec: "Cross-signing", POST /keys/device_signing/upload and
POST /keys/signatures/upload. Signatures a user's own keys make (self-signing key
on devices, devices on the master key) are merged into the stored object and are
visible to everyone; signatures a user-signing key makes on another user's master
key are stored apart and shown only to the signer, as the spec requires.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from conduwuit.core import canonical_json
from conduwuit.core.e2e_keys import (
    check_cross_signing_key,
    cross_signing_public_key,
    invalid_signature,
    stripped,
    verify,
)
from conduwuit.core.errors import (
    MatrixError,
    bad_json,
    forbidden,
    missing_param,
    not_found,
)
from conduwuit.db import MAPS, Batch, Database
from conduwuit.db.codec import key, prefix, prefix_end
from conduwuit.service.e2ee.device_keys import DeviceKeys, JsonDict
from conduwuit.service.e2ee.device_lists import (
    DeviceLists,
    DeviceUpdate,
    RemoteUpdate,
    SigningKeyUpdate,
)
from conduwuit.service.e2ee.ports import DeviceDirectory, Wake, no_wake

USAGES = ("master", "self_signing", "user_signing")
#: Request body field -> stored usage.
BODY_FIELDS = {"master_key": "master", "self_signing_key": "self_signing",
               "user_signing_key": "user_signing"}  # fmt: skip


def _failure(error: MatrixError) -> JsonDict:
    """An entry of the ``failures`` map: a standard error object."""
    return {"errcode": error.errcode, "error": error.message}


def _dump(value: Any) -> bytes:
    try:
        return canonical_json.encode(value)
    except canonical_json.CanonicalJsonError as exc:
        raise bad_json(f"Keys must be canonical JSON: {exc}") from None


def _same_key(stored: JsonDict, uploaded: JsonDict) -> bool:
    """Whether an upload repeats a stored key: same content, no signature we lack."""
    if stripped(stored) != stripped(uploaded):
        return False
    have = stored.get("signatures", {})
    sent = uploaded.get("signatures", {})
    if not isinstance(sent, dict):
        return False
    return all(
        isinstance(sigs, dict) and all(have.get(u, {}).get(k) == s for k, s in sigs.items())
        for u, sigs in sent.items()
    )


class CrossSigning:
    def __init__(
        self,
        db: Database,
        devices: DeviceDirectory,
        device_keys: DeviceKeys,
        device_lists: DeviceLists,
        *,
        wake: Wake = no_wake,
    ) -> None:
        self._db = db
        self._devices = devices
        self._device_keys = device_keys
        self._device_lists = device_lists
        self._wake = wake
        self._keys = db.map(MAPS.userid_crosssigningkeys)
        self._others = db.map(MAPS.useridsigner_signatures)
        #: Remote users' master keys, for signing them (set with federation).
        self.remote_master: Callable[[str], JsonDict | None] = _no_remote_master

    # -- reads ---------------------------------------------------------------------------
    def keys(self, user_id: str) -> dict[str, JsonDict]:
        """The user's cross-signing keys by usage (``master``, ...), as stored."""
        raw = self._keys.get(user_id.encode())
        if raw is None:
            return {}
        value: dict[str, JsonDict] = json.loads(raw)
        return value

    def keys_for_query(self, user_id: str, requester: str) -> dict[str, JsonDict]:
        """What /keys/query shows ``requester`` of ``user_id``'s keys: the master key
        with the signatures the requester may see, the self-signing key, and the
        user-signing key only to its owner."""
        keys = self.keys(user_id)
        if user_id != requester:
            keys.pop("user_signing", None)
            if "master" in keys:
                keys["master"] = self.with_private_signatures(keys["master"], user_id, requester)
        return keys

    def with_private_signatures(self, master: JsonDict, user_id: str, requester: str) -> JsonDict:
        """``user_id``'s master key with the signature ``requester``'s user-signing key
        made on it, which only the requester sees (local or remote ``user_id``)."""
        raw = self._others.get(key(user_id, requester))
        if raw is None:
            return master
        sigs = {u: dict(s) for u, s in master.get("signatures", {}).items()}
        sigs.setdefault(requester, {}).update(json.loads(raw))
        return {**master, "signatures": sigs}

    def stage_forget_signatures_on(self, b: Batch, user_id: str) -> None:
        """Drop local users' signatures on ``user_id``'s master key (it changed)."""
        p = prefix(user_id)
        end = prefix_end(p)
        assert end is not None
        b.delete_range(self._others, p, end)

    def _master_of(self, user_id: str) -> JsonDict | None:
        """A user's master key: stored here for local users, else the remote one
        (``remote_master``: the federation's cached device lists)."""
        master = self.keys(user_id).get("master")
        return master if master is not None else self.remote_master(user_id)

    # -- POST /keys/device_signing/upload ----------------------------------------------------
    def requires_uia(self, user_id: str, body: Mapping[str, Any]) -> bool:
        """Whether this upload needs user-interactive auth.

        Spec (v1.11+): not when the user has no master key yet, nor when every key
        in the request matches the stored one (a retried upload); otherwise yes.
        """
        stored = self.keys(user_id)
        if "master" not in stored:
            return False
        for field, usage in BODY_FIELDS.items():
            sent = body.get(field)
            if sent is None:
                continue
            if not isinstance(sent, dict) or usage not in stored:
                return True
            if not _same_key(stored[usage], sent):
                return True
        return False

    def upload(self, user_id: str, body: Mapping[str, Any]) -> None:
        """Check and store uploaded cross-signing keys (the caller did UIA if needed).

        Follows Synapse: the master key (sent, else stored) must exist
        (M_MISSING_PARAM), self-signing and user-signing keys must be signed by it
        (M_INVALID_SIGNATURE). A new master key drops the signatures other users
        made on the old one. Master and self-signing changes reach everyone who
        shares a room; a user-signing key change only the user.
        """
        stored = self.keys(user_id)
        sent = {
            usage: body[field]
            for field, usage in BODY_FIELDS.items()
            if body.get(field) is not None
        }
        master = sent.get("master", stored.get("master"))
        if master is None:
            raise missing_param("No master key available")
        master_id = check_cross_signing_key(master, user_id, "master")
        public_keys = [master_id[1]]
        for usage in ("self_signing", "user_signing"):
            if usage in sent:
                public_keys.append(
                    check_cross_signing_key(sent[usage], user_id, usage, master_id)[1]
                )
        for public_key in public_keys:
            # Spec: 403 if "the public key of one of the keys is the same as one of the
            # user's device IDs" (signatures are addressed by device ID or public key).
            if self._devices.get(user_id, public_key) is not None:
                raise forbidden("Key ID in use")
        changed = {u: k for u, k in sent.items() if u not in stored or not _same_key(stored[u], k)}
        if not changed:
            return
        new_master = "master" in changed and (
            "master" not in stored or cross_signing_public_key(stored["master"]) != master_id
        )
        record = {**stored, **changed}
        woken: set[str] = set()
        with self._db.batch() as b:
            b.put(self._keys, user_id.encode(), _dump(record))
            if new_master:
                p = prefix(user_id)
                end = prefix_end(p)
                assert end is not None
                b.delete_range(self._others, p, end)
            if "master" in changed or "self_signing" in changed:
                update = _signing_key_update(record)
                woken |= self._device_lists.stage_key_change(b, user_id, [update])
            else:
                woken |= self._device_lists.stage_change_seen_by(b, [user_id], user_id)
        self._wake(woken)

    # -- POST /keys/signatures/upload --------------------------------------------------------
    def upload_signatures(self, user_id: str, signed: Mapping[str, Any]) -> dict[str, Any]:
        """Check and store signatures; the ``failures`` map of the response.

        Each signed object must equal the stored key apart from ``signatures``. For
        the user's own keys: a device signed by the self-signing key, or the master
        key signed by one of the user's devices. For other users: their master key
        signed by the user's user-signing key. Failures are per key and do not stop
        the others, as Synapse's ``upload_signatures_for_device_keys`` does.
        """
        failures: dict[str, dict[str, JsonDict]] = {}
        own_devices: dict[str, dict[str, str]] = {}
        own_master: dict[str, str] | None = None
        others: dict[str, dict[str, str]] = {}
        for target_user, objects in signed.items():
            if not isinstance(objects, dict):
                raise bad_json(f"signatures for {target_user} must be an object")
            for key_id, obj in objects.items():
                try:
                    if not isinstance(obj, dict):
                        raise bad_json("a signed key must be an object")
                    if target_user == user_id:
                        new_sigs = self._check_own(user_id, key_id, obj)
                        if key_id == self._master_public(user_id):
                            own_master = _merge(own_master or {}, new_sigs)
                        else:
                            own_devices[key_id] = new_sigs
                    else:
                        others[target_user] = self._check_other(user_id, target_user, key_id, obj)
                except MatrixError as error:
                    failures.setdefault(target_user, {})[key_id] = _failure(error)
        self._store_signatures(user_id, own_devices, own_master, others)
        return failures

    def _master_public(self, user_id: str) -> str | None:
        master = self.keys(user_id).get("master")
        return cross_signing_public_key(master)[1] if master else None

    def _check_own(self, user_id: str, key_id: str, obj: JsonDict) -> dict[str, str]:
        """New signatures by ``user_id`` on one of their own keys, verified."""
        sigs = obj.get("signatures", {})
        mine = sigs.get(user_id) if isinstance(sigs, dict) else None
        if not isinstance(mine, dict) or not mine:
            raise invalid_signature("No signature by the user")
        stored_keys = self.keys(user_id)
        if key_id == self._master_public(user_id):
            master = stored_keys["master"]
            if stripped(obj) != stripped(master):
                raise invalid_signature("Key does not match the stored master key")
            have = master.get("signatures", {}).get(user_id, {})
            new: dict[str, str] = {}
            for signer_id, signature in mine.items():
                if have.get(signer_id) == signature:
                    continue
                algorithm, _, device_id = str(signer_id).partition(":")
                device_key = self._device_keys.ed25519_key(user_id, device_id)
                if algorithm != "ed25519" or device_key is None:
                    raise invalid_signature(f"{signer_id} is not a key of the user's devices")
                verify(obj, user_id, signer_id, device_key)
                new[signer_id] = signature
            return new
        self_signing = stored_keys.get("self_signing")
        if self_signing is None:
            raise not_found("No self-signing key")
        ss_id, ss_public = cross_signing_public_key(self_signing)
        if ss_id not in mine:
            raise invalid_signature("Not signed by the self-signing key")
        device = self._device_keys.get(user_id, key_id)
        if device is None:
            raise not_found("Unknown device")
        if stripped(obj) != stripped(device):
            raise invalid_signature("Key does not match the stored device keys")
        verify(obj, user_id, ss_id, ss_public)
        return {ss_id: mine[ss_id]}

    def _check_other(
        self, user_id: str, target_user: str, key_id: str, obj: JsonDict
    ) -> dict[str, str]:
        """The user-signing key's signature on ``target_user``'s master key, verified."""
        user_signing = self.keys(user_id).get("user_signing")
        if user_signing is None:
            raise not_found("No user-signing key")
        us_id, us_public = cross_signing_public_key(user_signing)
        master = self._master_of(target_user)
        if master is None or cross_signing_public_key(master)[1] != key_id:
            raise not_found("Unknown master key")
        if stripped(obj) != stripped(master):
            raise invalid_signature("Key does not match the stored master key")
        sigs = obj.get("signatures", {})
        signature = sigs.get(user_id, {}).get(us_id) if isinstance(sigs, dict) else None
        if not isinstance(signature, str):
            raise invalid_signature("Not signed by the user-signing key")
        verify(obj, user_id, us_id, us_public)
        return {us_id: signature}

    def _store_signatures(
        self,
        user_id: str,
        own_devices: dict[str, dict[str, str]],
        own_master: dict[str, str] | None,
        others: dict[str, dict[str, str]],
    ) -> None:
        woken: set[str] = set()
        with self._db.batch() as b:
            updates: list[RemoteUpdate] = []
            for device_id, sigs in own_devices.items():
                signed = self._device_keys.stage_add_signatures(
                    b, user_id, device_id, {user_id: dict(sigs)}
                )
                if signed is not None:
                    updates.append(DeviceUpdate(device_id, signed))
            if own_master:
                record = self.keys(user_id)
                master_sigs = record["master"].setdefault("signatures", {})
                master_sigs.setdefault(user_id, {}).update(own_master)
                b.put(self._keys, user_id.encode(), _dump(record))
                updates.append(_signing_key_update(record))
            if updates:
                woken |= self._device_lists.stage_key_change(b, user_id, updates)
            for target_user, sigs in others.items():
                b.put(self._others, key(target_user, user_id), _dump(sigs))
                woken |= self._device_lists.stage_change_seen_by(b, [user_id], target_user)
        self._wake(woken)

    def stage_forget_user(self, b: Batch, user_id: str) -> None:
        """Drop a user's cross-signing keys (account deactivation)."""
        b.delete(self._keys, user_id.encode())


def _no_remote_master(user_id: str) -> JsonDict | None:
    """Without federation no remote master key is known."""
    return None


def _signing_key_update(record: Mapping[str, JsonDict]) -> SigningKeyUpdate:
    """What other servers are told of a user's cross-signing keys: the master and
    self-signing keys (the user-signing key is for its owner only)."""
    return SigningKeyUpdate({u: record[u] for u in ("master", "self_signing") if u in record})


def _merge(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    return {**a, **b}
