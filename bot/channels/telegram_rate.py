"""Telegram's flood limits, kept in every second and every minute rather than on average.

python-telegram-bot's AIORateLimiter paces requests with aiolimiter's leaky buckets, whose size is their rate: a
full overall bucket lets 30 out at once and then 30 a second (up to 60 in one second), and a group's lets 20 out
at once and then one every 3 s (up to 39 in its first minute). Telegram answers such bursts with 429, and
AIORateLimiter then holds *every* chat's sends for the retry_after. So we keep AIORateLimiter — its retries, its
per-request bookkeeping — and give it stricter buckets: overall a bucket of one that drains `per_second` times a
second (evenly spaced sends), and per group an exact sliding window of 20 sends in any 60 seconds.

When Telegram still answers 429 ("retry after N"), AIORateLimiter pauses its sends — but only after each has
taken its place in the buckets, and any request that finishes meanwhile ends the pause early; at its end every
waiting send leaves at once, a burst that draws the next 429 (measured: throughput fell from 30 to 18 a second
for the rest of a long run). So every send here waits out the pause *before* taking its place, and afterwards
they leave evenly spaced again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

GROUP_WINDOW_SECONDS = 60.0
LOOK_AGAIN_SECONDS = 1.0  # a waiting send looks at the window at least this often (the clock may be a test's)


class SlidingWindowLimiter(AsyncLimiter):
    """At most `max_rate` acquisitions in any `time_period` seconds, granted in the order asked (FIFO)."""

    def __init__(self, max_rate: float, time_period: float, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_rate, time_period)
        self._now = now
        self._granted: deque[float] = deque()
        self._turn = asyncio.Lock()  # asyncio.Lock wakes its waiters in order: sends to a group keep their order

    def _forget_old(self, now: float) -> None:
        while self._granted and self._granted[0] <= now - self.time_period:
            self._granted.popleft()

    def has_capacity(self, amount: float = 1) -> bool:
        self._forget_old(self._now())
        return len(self._granted) + amount <= self.max_rate

    async def acquire(self, amount: float = 1) -> None:
        if amount > self.max_rate:
            raise ValueError("Can't acquire more than the maximum capacity")
        async with self._turn:
            while not self.has_capacity(amount):
                room_at = self._granted[0] + self.time_period
                await asyncio.sleep(min(max(room_at - self._now(), 0.0), LOOK_AGAIN_SECONDS))
            now = self._now()
            self._granted.extend([now] * int(amount))


class TelegramRateLimiter(AIORateLimiter):
    """AIORateLimiter whose group buckets are exact sliding windows (see the module's docstring)."""

    def __init__(self, per_second: float, *, max_retries: int = 3, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(
            overall_max_rate=1,
            overall_time_period=1 / per_second,
            group_max_rate=FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP,
            group_time_period=GROUP_WINDOW_SECONDS,
            max_retries=max_retries,
        )
        self._now = now
        self._resume_at = 0.0  # no send before this (a 429's retry_after)

    async def _run_request(
        self,
        chat: bool,
        group: str | int | bool,
        allow_paid_broadcast: bool,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        # Telegram asked for a pause: wait it out before the buckets (polling the clock, which may be a test's).
        while (wait := self._resume_at - self._now()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(wait, LOOK_AGAIN_SECONDS))
        try:
            return await super()._run_request(chat, group, allow_paid_broadcast, callback, args, kwargs)
        except RetryAfter as error:
            # _retry_after: always a timedelta in python-telegram-bot 22 (the public one warns, being int for now)
            self._resume_at = max(self._resume_at, self._now() + error._retry_after.total_seconds())
            raise  # AIORateLimiter waits and tries again (max_retries)

    def _get_group_limiter(self, group_id: str | int | bool) -> AsyncLimiter:
        limiter = self._group_limiters.get(group_id)
        if limiter is None:
            if len(self._group_limiters) > 512:  # forget groups with nothing in their window (as the parent does)
                for key, old in list(self._group_limiters.items()):
                    if old.has_capacity(old.max_rate):
                        del self._group_limiters[key]
            limiter = SlidingWindowLimiter(self._group_max_rate, self._group_time_period, self._now)
            self._group_limiters[group_id] = limiter
        return limiter
