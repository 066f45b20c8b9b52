"""The group window of our Telegram rate limiter, on a controllable clock: 20 sends in any minute, in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telegram.error import RetryAfter

from bot.channels.telegram_rate import SlidingWindowLimiter, TelegramRateLimiter


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_twenty_go_at_once_and_the_21st_waits_for_the_first_to_leave_the_minute() -> None:
    clock = Seconds()
    window = SlidingWindowLimiter(20, 60, clock)
    for _ in range(20):  # one a second
        await asyncio.wait_for(window.acquire(), 1)
        clock.now += 1
    late = asyncio.create_task(window.acquire())
    await settle()
    assert not late.done()
    clock.now += 39.5  # 59.5 s after the first: still 20 in the last minute
    await asyncio.sleep(1.1)  # the waiter looks at the clock again (at least once a second)
    assert not late.done()
    clock.now += 0.5  # the first send leaves the window
    await asyncio.wait_for(late, 2)
    assert not window.has_capacity()  # 20 again in the last minute: the 2nd to the 21st


async def test_waiting_sends_are_let_through_in_the_order_they_asked() -> None:
    clock = Seconds()
    window = SlidingWindowLimiter(2, 60, clock)
    await window.acquire()
    await window.acquire()
    order: list[int] = []

    async def send(n: int) -> None:
        await window.acquire()
        order.append(n)

    waiting = [asyncio.create_task(send(n)) for n in range(4)]
    await settle()
    clock.now += 60
    await asyncio.wait_for(asyncio.gather(*waiting[:2]), 3)
    clock.now += 60
    await asyncio.wait_for(asyncio.gather(*waiting), 3)
    assert order == [0, 1, 2, 3]


def test_each_group_gets_its_own_window_of_twenty_a_minute() -> None:
    limiter = TelegramRateLimiter(30, now=Seconds())
    first, second = limiter._get_group_limiter(-100), limiter._get_group_limiter(-200)
    assert isinstance(first, SlidingWindowLimiter) and first is not second
    assert (first.max_rate, first.time_period) == (20, 60)
    assert limiter._get_group_limiter(-100) is first


async def test_after_a_429_no_send_takes_its_place_until_the_pause_is_over() -> None:
    clock = Seconds()
    limiter = TelegramRateLimiter(1000, max_retries=1, now=clock)
    sent: list[str] = []
    refused = [True]
    slow_answer, was_refused = asyncio.Event(), asyncio.Event()

    async def send(text: str) -> bool:
        if text == "slow":
            await slow_answer.wait()
        elif refused and text == "first":
            refused.clear()
            was_refused.set()
            raise RetryAfter(timedelta(seconds=1))
        sent.append(text)
        return True

    async def request(text: str) -> object:
        return await limiter.process_request(send, (text,), {}, "sendMessage", {"chat_id": 7}, None)

    slow = asyncio.create_task(request("slow"))  # on its way when the 429 comes
    await settle()
    first = asyncio.create_task(request("first"))  # refused: "retry after 1 s"; AIORateLimiter tries it again
    await asyncio.wait_for(was_refused.wait(), 5)
    later = [asyncio.create_task(request(f"later {n}")) for n in range(3)]
    await asyncio.sleep(0.1)
    slow_answer.set()  # a send finishing during the pause (AIORateLimiter then ended the pause for everyone)
    await asyncio.sleep(0.5)
    assert sent == ["slow"]  # nobody else went in while Telegram asked for the pause
    clock.now += 1
    await asyncio.wait_for(asyncio.gather(slow, first, *later), 10)
    assert sorted(sent) == ["first", "later 0", "later 1", "later 2", "slow"]
