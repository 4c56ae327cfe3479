"""Per-key asyncio locks that are dropped again once nobody holds or waits for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from weakref import WeakValueDictionary


class KeyedLocks:
    """One FIFO lock per key (a chat), so one chat's updates are applied in arrival order."""

    def __init__(self) -> None:
        # Every holder and waiter refers to its lock, so a key keeps one lock while it is in
        # use, and the mapping forgets the lock once the last of them is done.
        self._locks: WeakValueDictionary[Hashable, asyncio.Lock] = WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold the lock of ``key`` for the duration of the block."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            yield
