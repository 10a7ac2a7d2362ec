import dataclasses

from conduwuit.core import room_versions as rv

UNSTABLE = ["org.matrix.msc3757.10", "org.matrix.msc3757.11"]


def test_registry_has_1_to_12_and_default_11() -> None:
    assert list(rv.KNOWN_ROOM_VERSIONS) == [str(i) for i in range(1, 13)] + UNSTABLE
    assert rv.DEFAULT_ROOM_VERSION == "11"
    assert rv.get("11") is rv.V11
    assert rv.get("13") is None


def test_spec_marks_all_stable_and_conduwuit_gates_1_to_5() -> None:
    assert rv.supported_versions(allow_unstable=False) == [str(i) for i in range(6, 13)]
    assert rv.supported_versions(allow_unstable=True) == [str(i) for i in range(1, 13)] + UNSTABLE
    caps = rv.capabilities(allow_unstable=False)
    assert caps["default"] == "11"
    assert "5" not in caps["available"]  # type: ignore[operator]


def test_feature_matrix() -> None:
    def having(flag: str) -> list[str]:
        return [k for k, v in rv.KNOWN_ROOM_VERSIONS.items() if getattr(v, flag) and v.stable]

    assert having("knock_join_rule") == [str(i) for i in range(7, 13)]
    assert having("restricted_join_rule") == [str(i) for i in range(8, 13)]
    assert having("knock_restricted_join_rule") == [str(i) for i in range(10, 13)]
    assert having("integer_power_levels") == [str(i) for i in range(10, 13)]
    assert having("implicit_room_creator") == ["11", "12"]
    assert having("hydra") == ["12"]
    assert having("special_case_aliases_auth") == ["1", "2", "3", "4", "5"]
    assert having("strict_canonical_json") == [str(i) for i in range(6, 13)]
    assert having("event_id_server_signature") == ["1", "2"]
    assert rv.V1.state_res is rv.StateResAlgorithm.V1
    assert rv.V12.state_res is rv.StateResAlgorithm.V2_1
    assert rv.V3.event_format is rv.EventFormat.V2
    assert rv.V4.event_format is rv.EventFormat.V3
    # MSC3757's versions are v10 and v11 with owned state, and only they have it.
    assert [k for k, v in rv.KNOWN_ROOM_VERSIONS.items() if v.owned_state] == UNSTABLE
    for unstable, base in zip(UNSTABLE, (rv.V10, rv.V11), strict=True):
        same = dataclasses.replace(
            rv.KNOWN_ROOM_VERSIONS[unstable],
            identifier=base.identifier,
            stable=True,
            needs_allow_unstable=False,
            owned_state=False,
        )
        assert same == base


def test_records_are_frozen() -> None:
    try:
        rv.V11.hydra = True  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:
        raise AssertionError("RoomVersion must be frozen")


def test_version_grammar() -> None:
    assert rv.is_valid_identifier("com.example.version")
    assert not rv.is_valid_identifier("")
    assert not rv.is_valid_identifier("A")
    assert not rv.is_valid_identifier("a" * 33)
