import dataclasses

from conduwuit.core import room_versions as rv


def test_registry_has_1_to_12_and_default_11() -> None:
    assert list(rv.KNOWN_ROOM_VERSIONS) == [str(i) for i in range(1, 13)]
    assert rv.DEFAULT_ROOM_VERSION == "11"
    assert rv.get("11") is rv.V11
    assert rv.get("13") is None


def test_spec_marks_all_stable_and_conduwuit_gates_1_to_5() -> None:
    assert rv.supported_versions(allow_unstable=False) == [str(i) for i in range(6, 13)]
    assert rv.supported_versions(allow_unstable=True) == [str(i) for i in range(1, 13)]
    caps = rv.capabilities(allow_unstable=False)
    assert caps["default"] == "11"
    assert "5" not in caps["available"]  # type: ignore[operator]


def test_feature_matrix() -> None:
    def having(flag: str) -> list[str]:
        return [k for k, v in rv.KNOWN_ROOM_VERSIONS.items() if getattr(v, flag)]

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
