from __future__ import annotations

import pytest

from conduwuit.db import ALL_MAPS, MAPS, Maps, MapSpec


def test_registry_holds_the_base_maps() -> None:
    names = [s.name for s in ALL_MAPS]
    assert names[:2] == ["global", "server_signingkeys"]
    assert MAPS.global_.name == "global"
    assert len(set(names)) == len(names)
    assert all(s.layout.strip() for s in ALL_MAPS)


def test_duplicate_names_are_refused() -> None:
    class Broken(Maps):
        again = MapSpec("global", "a second global")

    # Subclass attributes and inherited ones are both registry entries.
    specs = [*Maps.all(), *(v for v in vars(Broken).values() if isinstance(v, MapSpec))]
    assert [s.name for s in specs].count("global") == 2
    with pytest.raises(ValueError, match="duplicate map names"):

        class Twice(Maps):
            a = MapSpec("x_y", "one")
            b = MapSpec("x_y", "two")

        Twice.all()


@pytest.mark.parametrize("bad", ["", "Upper", "two words", "trailing_", "a-b"])
def test_names_are_snake_case(bad: str) -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        MapSpec(bad, "layout")
