"""Memory budgets derived from the machine (issue 21): a pure rule, pinned per machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from conduwuit.config.memory import Machine, MemoryBudget, derive, machine, map_write_buffer
from conduwuit.server import database_options
from tests.kit.homeserver import homeserver_config


@pytest.mark.parametrize(
    ("memory_mib", "cores", "cache", "write", "per_map"),
    [
        (1024, 4, 8.0, 16.0, 8.0),  # Raspberry Pi 3 B / 4 with 1 GB: the documented values
        (512, 4, 4.0, 8.0, 4.0),  # Pi Zero 2 W
        (2048, 4, 12.0, 24.0, 8.0),  # 2 GB Pi 4: the caps (4 + 2 x 4, 8 + 4 x 4)
        (8192, 4, 12.0, 24.0, 8.0),  # more memory, same cores: still the caps
        (24 * 1024, 2, 8.0, 16.0, 8.0),  # this project's 2-core benchmark machine
        (65536, 16, 36.0, 72.0, 8.0),  # a big server: grows with cores, one map stays 8
        (256, 1, 2.0, 4.0, 2.0),  # tiny: the shares, and the write buffer's floor
        (128, 1, 1.0, 4.0, 2.0),  # below the floor's 1/64: the floor
    ],
)
def test_budget_follows_memory_capped_by_cores(
    memory_mib: float, cores: int, cache: float, write: float, per_map: float
) -> None:
    assert derive(Machine(memory_mib, cores)) == MemoryBudget(cache, write, per_map)


def test_no_cores_counts_as_one_and_no_memory_gets_the_floors() -> None:
    assert derive(Machine(0, 0)) == MemoryBudget(0.0, 4.0, 2.0)
    assert derive(Machine(4096, 0)) == derive(Machine(4096, 1))


def test_one_maps_buffer_is_half_the_total_at_most_8() -> None:
    assert map_write_buffer(4) == 2
    assert map_write_buffer(16) == 8
    assert map_write_buffer(500) == 8


def test_machine_takes_the_cgroup_limit_when_lower(tmp_path: Path) -> None:
    limit = tmp_path / "memory.max"
    physical = machine(tmp_path / "absent").memory_mib
    assert physical > 0
    limit.write_text(f"{512 * 1024 * 1024}\n")
    assert machine(limit).memory_mib == min(512, physical)
    limit.write_text("max\n")
    assert machine(limit).memory_mib == physical
    assert machine(limit).cores >= 1


def test_unset_options_are_derived_from_the_host(tmp_path: Path) -> None:
    options = database_options(homeserver_config(tmp_path), Machine(1024, 4))
    assert options.cache_capacity_mb == 8
    assert options.write_buffer_capacity_mb == 16
    assert options.map_write_buffer_mb == 8


def test_set_options_win_and_the_modifier_scales_the_cache_only(tmp_path: Path) -> None:
    config = homeserver_config(
        tmp_path,
        db_cache_capacity_mb=0,
        db_write_buffer_capacity_mb=6,
        cache_capacity_modifier=2.0,
    )
    options = database_options(config, Machine(1024, 4))
    assert options.cache_capacity_mb == 0  # set to 0: no block cache, whatever the host
    assert options.write_buffer_capacity_mb == 6
    assert options.map_write_buffer_mb == 3
    scaled = database_options(
        homeserver_config(tmp_path, cache_capacity_modifier=0.5), Machine(512, 4)
    )
    assert scaled.cache_capacity_mb == 2  # 4 derived, halved
    assert scaled.write_buffer_capacity_mb == 8  # not scaled
