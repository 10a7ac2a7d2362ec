"""Third-party networks (client-server API "Third-party networks", Application
Service API "Third-party networks"): checking what application services answer and
merging their protocol descriptions. Pure functions; the asking is in
``conduwuit/service/appservice/thirdparty.py``.

The checks are Synapse's (``ApplicationServiceApi.get_3pe_protocol`` / ``query_3pe``):
a protocol is usable when it is an object with an ``instances`` list; a lookup
result when it is an object with string ``protocol`` and ``alias`` (locations) or
``userid`` (users) and an object ``fields``. Anything else from a service is dropped.
"""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any


class ThirdPartyKind(StrEnum):
    """What a lookup finds; the value is the path segment and the key it must have."""

    LOCATION = "location"
    USER = "user"

    @property
    def matrix_key(self) -> str:
        return "alias" if self is ThirdPartyKind.LOCATION else "userid"


def instance_id(appservice_id: str, network_id: str) -> str:
    """The ``instance_id`` of an instance, as Synapse builds it (its
    ``ThirdPartyInstanceID``): unique on this server, used by ``/publicRooms``'s
    ``third_party_instance_id``."""
    return f"{appservice_id}|{network_id}"


def checked_protocol(appservice_id: str, answer: Any) -> dict[str, Any] | None:
    """The protocol description ``answer`` of service ``appservice_id``, a copy with
    each instance's ``instance_id`` set (from its ``network_id``); None if unusable."""
    if not isinstance(answer, dict):
        return None
    instances = answer.get("instances")
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        return None
    protocol = copy.deepcopy(answer)
    for instance in protocol["instances"]:
        network_id = instance.get("network_id")
        if isinstance(network_id, str):
            instance["instance_id"] = instance_id(appservice_id, network_id)
    return protocol


def merge_protocols(descriptions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One description of a protocol several services provide: the first one's
    fields and everybody's instances, in order (as Synapse merges them); None if
    there are none."""
    if not descriptions:
        return None
    merged = dict(descriptions[0])
    merged["instances"] = [i for d in descriptions for i in d["instances"]]
    return merged


def _valid_result(kind: ThirdPartyKind, result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    if not all(isinstance(result.get(k), str) for k in (kind.matrix_key, "protocol")):
        return False
    return isinstance(result.get("fields"), dict)


def checked_results(kind: ThirdPartyKind, answer: Any) -> list[dict[str, Any]]:
    """The valid results of a service's lookup answer (none if it is not a list)."""
    if not isinstance(answer, list):
        return []
    return [r for r in answer if _valid_result(kind, r)]
