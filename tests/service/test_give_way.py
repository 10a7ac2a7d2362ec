"""GiveWay yields to the loop once its budget is spent, and not before."""

from __future__ import annotations

import asyncio

from conduwuit.service.give_way import GiveWay


async def test_yields_only_after_the_budget() -> None:
    now = [0.0]
    give_way = GiveWay(budget_s=0.004, clock=lambda: now[0])
    ran: list[int] = []

    async def other() -> None:
        ran.append(1)

    task = asyncio.create_task(other())
    now[0] = 0.003
    await give_way.pause()
    assert give_way.yields == 0 and not ran  # within budget: the other task waited
    now[0] = 0.005
    await give_way.pause()
    assert give_way.yields == 1 and ran  # budget spent: the other task ran
    await task
    await give_way.pause()  # the budget starts again after a yield
    assert give_way.yields == 1


async def test_the_longest_stretch_between_yields_is_kept() -> None:
    now = [0.0]
    cpu = [0.0]
    give_way = GiveWay(budget_s=0.004, clock=lambda: now[0], cpu_clock=lambda: cpu[0])
    now[0], cpu[0] = 0.009, 0.002  # held 9 ms, 2 of them on the CPU
    await give_way.pause()
    now[0], cpu[0] = 0.014, 0.007  # then 5 ms, all on the CPU
    await give_way.pause()
    assert give_way.yields == 2
    assert give_way.longest_s == 0.009
    assert give_way.longest_cpu_s == 0.005
