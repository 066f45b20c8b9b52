"""The request letter, opened by staff on any channel, whichever channel the representative sent it on.

A letter sent on Telegram stays on Telegram's servers (its file id); one sent on WhatsApp was downloaded into
`<files_dir>/whatsapp/<media id>.<ext>`. Channels ask :class:`LetterFiles` for the bytes (or, on Telegram, send
the file id again); whatever cannot be opened raises :class:`LetterUnavailable` with the reason to tell staff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram import Bot, InputFile, ReplyParameters
from telegram.error import BadRequest, TelegramError

from bot.settings import Settings
from handlers.domain.model import FileRef
from handlers.i18n import N_, Translator
from handlers.messages import Document
from storage.whatsapp_store import MediaFiles

log = logging.getLogger(__name__)

MISSING = N_("The letter for this request can no longer be found on the server.")
REFUSED = N_("{platform} refused to send the letter file ({name}).")
UNREACHABLE = N_("{platform} could not be reached.")
NOT_OPENED = N_("Sorry, the letter could not be opened: {reason} Please ask the representative to send it again.")
CAPTION_LIMIT = 1024  # Telegram's and WhatsApp's caption limit


class LetterUnavailable(Exception):
    """The letter cannot be opened; `reason` is a message id (with its parameters) to tell staff."""

    def __init__(self, reason: str, **params: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def tell(self, t: Translator) -> str:
        return t(NOT_OPENED, reason=t(self.reason, **self.params))


def caption(document: Document) -> str:
    text = document.caption
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


def is_image(file: FileRef) -> bool:
    return file.mime_type.startswith("image/")


class LetterFiles:
    """Where a letter's bytes are: on disk (WhatsApp) or behind the Bot API (Telegram)."""

    def __init__(self, files_dir: Path, settings: Settings | None = None) -> None:
        self._media = MediaFiles(files_dir)
        self._settings = settings if settings is not None and settings.telegram_enabled else None

    def path(self, file: FileRef) -> Path | None:
        """The file on disk, for a letter received on WhatsApp."""
        return self._media.path(file.file_id, file.mime_type) if file.channel == "whatsapp" else None

    async def content(self, file: FileRef) -> bytes:
        if file.channel == "telegram":
            return await self._from_telegram(file)
        path = self.path(file)
        try:
            if path is None:
                raise FileNotFoundError(file.channel)
            return path.read_bytes()
        except OSError:
            log.warning("letter file of %s media missing from the files directory", file.channel)
            raise LetterUnavailable(MISSING) from None

    async def _from_telegram(self, file: FileRef) -> bytes:
        """getFile, then the file URL (the Bot API file base URL setting), with a short-lived client."""
        settings = self._settings
        if settings is None or settings.telegram_token is None:
            raise LetterUnavailable(REFUSED, platform="Telegram", name=file.name)
        bot = Bot(settings.telegram_token.get_secret_value(), base_url=settings.telegram_api_base_url,
                  base_file_url=settings.telegram_file_base_url)  # fmt: skip
        try:
            async with bot:
                remote = await bot.get_file(file.file_id)
                return bytes(await remote.download_as_bytearray())
        except BadRequest as error:
            log.warning("Telegram refused the letter file (%s)", error.message)
            raise LetterUnavailable(REFUSED, platform="Telegram", name=file.name) from None
        except TelegramError as error:
            log.warning("Telegram letter file could not be fetched (%s)", type(error).__name__)
            raise LetterUnavailable(UNREACHABLE, platform="Telegram") from None


async def send_on_telegram(
    call: Callable[..., Awaitable[Any]], bot: Bot, chat_id: int | str, document: Document, files: LetterFiles,
    reply_to: int | None,
) -> Any:  # fmt: skip
    """sendDocument (a PDF) or sendPhoto (an image): a letter received on Telegram by its file id, one received
    elsewhere uploaded. An image Telegram will not take as a photo (a file id of a document, odd dimensions) is
    sent as a document. Raises LetterUnavailable when the file cannot be had or Telegram refuses it."""
    file = document.file
    source: str | InputFile = (
        file.file_id if file.channel == "telegram" else InputFile(await files.content(file), filename=file.name)
    )
    common: dict[str, Any] = {
        "chat_id": chat_id,
        "caption": caption(document),
        "reply_parameters": ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
    }
    if is_image(file):
        try:
            return await call(bot.send_photo, photo=source, **common)
        except BadRequest as error:
            log.info("letter not taken as a photo (%s); sending it as a document", error.message)
            if isinstance(source, InputFile):
                source = InputFile(await files.content(file), filename=file.name)
    try:
        return await call(bot.send_document, document=source, **common)
    except BadRequest as error:
        log.warning("Telegram refused the letter (%s)", error.message)
        raise LetterUnavailable(REFUSED, platform="Telegram", name=file.name) from None
