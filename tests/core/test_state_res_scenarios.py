"""Classic state-resolution scenarios (as in Synapse's tests/state/test_v2.py)."""

import pytest

from conduwuit.core import room_versions as rv

from .dagkit import ALICE, BOB, CHARLIE, EVELYN, ZARA, Dag, Spec

V2_VERSIONS = [rv.V2, rv.V6, rv.V11, rv.V12]


def pl(users: dict[str, int], version: rv.RoomVersion) -> dict[str, object]:
    if version.privileged_creators:
        users = {u: v for u, v in users.items() if u != ALICE}
    return {"users": users}


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_ban_vs_power_levels(version: rv.RoomVersion) -> None:
    specs = [
        Spec("PA", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}),
        Spec("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
        Spec("PB", BOB, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
    ]
    dag = Dag(version, specs, [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]])
    assert dag.final_state() == dag.expected(["PA", "MA", "MB"])


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_join_rule_evasion(version: rv.RoomVersion) -> None:
    specs = [
        Spec("JR", ALICE, "m.room.join_rules", "", {"join_rule": "private"}),
        Spec("ME", EVELYN, "m.room.member", EVELYN, {"membership": "join"}),
    ]
    dag = Dag(version, specs, [["END", "JR", "START"], ["END", "ME", "START"]])
    assert dag.final_state() == dag.expected(["JR"])


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_offtopic_power_levels(version: rv.RoomVersion) -> None:
    specs = [
        Spec("PA", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("PB", BOB, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50, CHARLIE: 50}, version)),
        Spec(
            "PC", CHARLIE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50, CHARLIE: 0}, version)
        ),
    ]
    dag = Dag(version, specs, [["END", "PC", "PB", "PA", "START"], ["END", "PA"]])
    assert dag.final_state() == dag.expected(["PC"])


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_topic_basic(version: rv.RoomVersion) -> None:
    specs = [
        Spec("T1", ALICE, "m.room.topic", "", {}),
        Spec("PA1", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("T2", ALICE, "m.room.topic", "", {}),
        Spec("PA2", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 0}, version)),
        Spec("PB", BOB, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("T3", BOB, "m.room.topic", "", {}),
    ]
    edges = [["END", "PA2", "T2", "PA1", "T1", "START"], ["END", "T3", "PB", "PA1"]]
    dag = Dag(version, specs, edges)
    assert dag.final_state() == dag.expected(["PA2", "T2"])


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_topic_reset(version: rv.RoomVersion) -> None:
    specs = [
        Spec("T1", ALICE, "m.room.topic", "", {}),
        Spec("PA", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("T2", BOB, "m.room.topic", "", {}),
        Spec("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
    ]
    dag = Dag(version, specs, [["END", "MB", "T2", "PA", "T1", "START"], ["END", "T1"]])
    assert dag.final_state() == dag.expected(["T1", "MB", "PA"])


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_topic_with_message_between(version: rv.RoomVersion) -> None:
    specs = [
        Spec("T1", ALICE, "m.room.topic", "", {}),
        Spec("PA1", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("T2", ALICE, "m.room.topic", "", {}),
        Spec("PA2", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 0}, version)),
        Spec("PB", BOB, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("T3", BOB, "m.room.topic", "", {}),
        Spec("MZ1", ZARA, "m.room.message", None),
        Spec("T4", ALICE, "m.room.topic", "", {}),
    ]
    edges = [
        ["END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"],
        ["END", "MZ1", "T3", "PB", "PA1"],
    ]
    dag = Dag(version, specs, edges)
    assert dag.final_state() == dag.expected(["T4", "PA2"])


def test_v1_ban_vs_power_levels() -> None:
    version = rv.V1
    specs = [
        Spec("PA", ALICE, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
        Spec("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
        Spec("PB", BOB, "m.room.power_levels", "", pl({ALICE: 100, BOB: 50}, version)),
    ]
    dag = Dag(version, specs, [["END", "MB", "PA", "START"], ["END", "PB", "PA"]])
    state = dag.final_state()
    assert state[("m.room.member", BOB)] == dag.eid("MB")


def test_v1_topic_conflict_picks_deepest_passing() -> None:
    version = rv.V1
    specs = [
        Spec("T1", ALICE, "m.room.topic", "", {"topic": "one"}),
        Spec("T2", BOB, "m.room.topic", "", {"topic": "two"}),
        Spec("T3", ALICE, "m.room.topic", "", {"topic": "three"}),
    ]
    dag = Dag(version, specs, [["END", "T1", "START"], ["END", "T3", "T2", "START"]])
    # Bob (power 0) may not set the topic (state_default 50); T3 is deepest and passes.
    assert dag.final_state()[("m.room.topic", "")] == dag.eid("T3")
