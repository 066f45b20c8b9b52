"""The console channel: the same flows in a terminal, for trying the bot with no account or token.

Choices are numbered; typing the number or the option's text both work. Notices for this person (a staff
decision, a question from staff) are printed as they arrive, from the same outbox other channels deliver from.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import datetime

from bot.channels.letters import LetterFiles
from bot.delivery import DeliveryGate
from handlers.domain.model import Address
from handlers.flows.request_audience import ACCEPTED_LETTER_TYPES
from handlers.i18n import Translator
from handlers.messages import Choice, Document, Inbound, Option, Outbound, PressIn, TextIn
from handlers.service import REPRESENTATIVE, ConversationService
from storage.outbox import OutboxStore

EXIT_WORDS = frozenset({"/keluar", "/exit", "/quit"})
Reader = Callable[[], Awaitable[str | None]]
Writer = Callable[[str], None]


def render(messages: list[Outbound] | tuple[Outbound, ...], t: Translator, files: LetterFiles | None = None) -> str:
    blocks: list[str] = []
    for message in messages:
        if isinstance(message, Document):
            blocks.append(_letter(message, t, files))
        elif isinstance(message, Choice):
            lines = [message.body, ""]
            for number, option in enumerate(message.options, start=1):
                extra = f" — {option.description}" if option.description else ""
                lines.append(f"  {number}. {option.label}{extra}")
            lines.append(t("(Type the number of your choice.)"))
            blocks.append("\n".join(lines))
        else:
            blocks.append(message.body)
    return "\n\n".join(blocks)


def _letter(document: Document, t: Translator, files: LetterFiles | None) -> str:
    """No file in a terminal: what it is and where it is kept."""
    file = document.file
    kind = ACCEPTED_LETTER_TYPES.get(file.mime_type, file.mime_type)
    shown = t("{name} ({kind}, {size} KB)", name=file.name, kind=kind, size=max(1, file.size // 1024))
    path = files.path(file) if files is not None else None
    if file.channel == "telegram":
        where = t("kept on Telegram")
    elif path is not None:
        where = t("kept at {path}", path=str(path))
    else:
        where = t("kept on {channel}", channel=file.channel.title())
    return f"📎 {document.caption}\n   {shown} — {where}"


async def stdin_reader() -> str | None:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line.rstrip("\n") if line else None


def stdout_writer(text: str) -> None:
    print(text, flush=True)


class ConsoleChannel:
    def __init__(
        self,
        service: ConversationService,
        outbox: OutboxStore,
        clock_now: Callable[[], datetime],
        *,
        address: Address,
        persona: str = REPRESENTATIVE,
        reader: Reader = stdin_reader,
        writer: Writer = stdout_writer,
        poll_seconds: float = 1.0,
        gate: DeliveryGate | None = None,
        files: LetterFiles | None = None,
    ) -> None:
        self._files = files
        self._gate = gate
        self._service = service
        self._outbox = outbox
        self._now = clock_now
        self._address = address
        self._persona = persona
        self._read = reader
        self._write = writer
        self._poll_seconds = poll_seconds
        self._shown: tuple[Option, ...] = ()  # the options printed last, numbered on screen

    async def send(self, text: str) -> str:
        messages = await self._service.handle(self._address, self._inbound(text), persona=self._persona)
        self._remember_options(messages)
        return render(messages, self._service.translator(), self._files)

    def _inbound(self, text: str) -> Inbound:
        """A number picks from the options printed last, whether a reply's or a notice's (🔔)."""
        typed = text.strip()
        if typed.isdigit() and 1 <= int(typed) <= len(self._shown):
            return PressIn(self._shown[int(typed) - 1].key)
        return TextIn(text)

    def _remember_options(self, messages: Sequence[Outbound]) -> None:
        choices = [m for m in messages if isinstance(m, Choice)]
        if choices:
            self._shown = choices[-1].options
        elif messages:
            self._shown = ()

    async def deliver_notices(self) -> int:
        items = await self._outbox.claim(
            self._now(),
            channel=self._address.channel,
            external_id=self._address.external_id,
        )
        t = self._service.translator()
        for item in items:
            if self._gate is not None and not await self._gate.allow(item):
                continue
            self._write(f"\n🔔 {render(item.messages, t, self._files)}\n")
            self._remember_options(item.messages)
            await self._outbox.mark_sent(item.id, self._now())
        return len(items)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            await self.deliver_notices()

    async def open(self) -> None:
        """Opening: the welcome (in full only the first time) and the notices that came while it was closed.

        Whatever is shown last is what a typed number chooses from: a question the person left open (a form's
        step, "abandon this form?") comes after the notices; with none open, the notices come last, so their
        options can be answered by number.
        """
        messages, busy = await self._service.reopen(self._address, persona=self._persona)
        t = self._service.translator()
        if busy:
            await self.deliver_notices()
        self._remember_options(messages)
        self._write(render(messages, t, self._files))
        if not busy:
            await self.deliver_notices()

    async def run(self) -> None:
        t = self._service.translator()
        self._write(t("Audiensi console. Type /keluar to leave; closing and opening again continues where you were."))
        await self.open()
        poller = asyncio.create_task(self._poll())
        try:
            while True:
                line = await self._read()
                if line is None or line.strip().lower() in EXIT_WORDS:
                    break
                self._write(await self.send(line))  # an empty line too: the step says what it expects
                await self.deliver_notices()
        finally:
            poller.cancel()
            with suppress(asyncio.CancelledError):
                await poller
