"""Password hashing with argon2id, always in an executor: a hash takes tens of
milliseconds of CPU and must never stall the event loop.

At most ``max_concurrent`` hashes run at once (default: one per CPU core): each
holds ``memory_cost`` KiB (19 MiB by default) while it runs, so concurrent logins
without a bound raised the peak RSS by 19 MiB per executor thread (six on two
cores), for no more throughput than the cores give (docs/performance.md, "Memory").

argon2-cffi (and its native binding) is imported for the first hash or check, not
at start-up (issue 21: ~1.3 ms).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import string
from concurrent.futures import Executor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher as _Argon2

#: Length of generated passwords (guest accounts, and accounts registered without one).
GENERATED_PASSWORD_LENGTH = 25
_ALPHABET = string.ascii_letters + string.digits


def generate_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


class PasswordHasher:
    """argon2id with configurable cost; ``hash`` and ``verify`` run off the loop."""

    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost: int,
        parallelism: int,
        executor: Executor | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        self._costs = (time_cost, memory_cost, parallelism)
        self._executor = executor
        self.max_concurrent = max(1, max_concurrent or os.cpu_count() or 1)
        self._slots = asyncio.Semaphore(self.max_concurrent)

    @functools.cached_property
    def _argon2(self) -> _Argon2:
        from argon2 import PasswordHasher as _Argon2

        time_cost, memory_cost, parallelism = self._costs
        return _Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)

    def hash_sync(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify_sync(self, password_hash: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        async with self._slots:
            return await loop.run_in_executor(self._executor, self.hash_sync, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        loop = asyncio.get_running_loop()
        async with self._slots:
            return await loop.run_in_executor(
                self._executor, self.verify_sync, password_hash, password
            )
