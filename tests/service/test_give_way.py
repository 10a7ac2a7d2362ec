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
