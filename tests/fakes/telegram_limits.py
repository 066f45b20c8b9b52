"""A fake Bot API server that enforces Telegram's flood limits the way Telegram answers them: 429 with
``parameters.retry_after``.

`LimitedTelegramAPI` is `FakeTelegramAPI` with two sliding windows over the sends it accepted: at most
``overall_per_second`` messages in any 1 second to all chats (Telegram: about 30), and at most ``group_per_minute``
in any 60 seconds to one group (a negative chat id; Telegram: 20). A send over a limit is recorded and answered
``429 Too Many Requests: retry after N`` instead of being carried out (N: seconds until the window has room, at
least 1), so nothing is shown in the chat. Either limit may be switched off with None. ``clock`` (seconds,
default `time.monotonic`) lets a test move the fake's windows on without waiting.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.telegram_api import JSON, ApiError, FakeTelegramAPI, UploadedFile

SENDING_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})


class LimitedTelegramAPI(FakeTelegramAPI):
    def __init__(
        self,
        *args: Any,
        overall_per_second: int | None = 30,
        group_per_minute: int | None = 20,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.overall_per_second = overall_per_second
        self.group_per_minute = group_per_minute
        self._accepted: deque[float] = deque()  # monotonic times of accepted sends, last second
        self._accepted_by_group: dict[int, deque[float]] = {}
        self.refused: list[tuple[str, int, int]] = []  # (which limit, chat id, retry_after) of each 429
        self.admitted: list[tuple[float, int]] = []  # (clock time, chat id) of each send let through

    def __enter__(self) -> LimitedTelegramAPI:
        self.start()
        return self

    async def _dispatch(self, token: str, method: str, params: JSON, files: dict[str, UploadedFile]) -> Any:
        if token == self.token and method in SENDING_METHODS:
            self._admit(params.get("chat_id"))
        return await super()._dispatch(token, method, params, files)

    def _admit(self, chat_id: object) -> None:
        now = self.clock()
        with self._lock:
            overall = self._accepted
            while overall and overall[0] <= now - 1.0:
                overall.popleft()
            if self.overall_per_second is not None and len(overall) >= self.overall_per_second:
                self._refuse("overall", chat_id, overall[0] + 1.0 - now)
            group: deque[float] | None = None
            if isinstance(chat_id, int) and chat_id < 0 and self.group_per_minute is not None:
                group = self._accepted_by_group.setdefault(chat_id, deque())
                while group and group[0] <= now - 60.0:
                    group.popleft()
                if len(group) >= self.group_per_minute:
                    self._refuse("group", chat_id, group[0] + 60.0 - now)
                group.append(now)
            overall.append(now)
            self.admitted.append((now, chat_id if isinstance(chat_id, int) else 0))

    def _refuse(self, limit: str, chat_id: object, wait: float) -> None:
        retry_after = max(1, math.ceil(wait))
        self.refused.append((limit, chat_id if isinstance(chat_id, int) else 0, retry_after))
        raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def most_in_any_second(times: Iterable[float]) -> int:
    """The most sends in any sliding second [t, t + 1 s): the figure Telegram's overall limit is about."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while ordered[first] <= moment - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most
