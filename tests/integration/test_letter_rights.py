"""Who may open a request letter (g:letter:<id>): staff who may view the official's requests, and its representative."""

from __future__ import annotations

from handlers.domain.model import Address, FileRef
from handlers.messages import Document, FileIn, PressIn, Refusal
from tests.harness import AJUDAN, PROTOKOL, VIEWER, Harness
from tests.integration.test_request_dialog import HAPPY, REP

LETTER = FileRef("telegram", "BQACAgUAAxkBAAIfake", "surat.pdf", "application/pdf", 2048)


async def with_letter(h: Harness, who: Address, official: str) -> int:
    for said, expected in HAPPY[:-2]:
        said = official if expected == "Apa perihal audiensi ini?" else said
        assert expected in await h.say(who, said, files=True), said
    assert "Mohon kirim surat" in await h.say(who, "005/12/KT-MKS/XI/2026", files=True)
    assert "Mohon periksa kembali" in await h.say(who, FileIn(LETTER), files=True)
    assert "kode permohonan" in await h.say(who, "Kirim", files=True)
    [request, *_] = sorted(await h.requests_of(who), key=lambda r: -(r.id or 0))
    assert request.id is not None
    return request.id


def documents(h: Harness) -> list[Document]:
    return [m for m in h.last if isinstance(m, Document)]


async def test_staff_who_may_view_and_the_representative_get_the_letter_and_no_one_else(h: Harness) -> None:
    request_id = await with_letter(h, REP, "2")  # the Wakil Wali Kota
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request_id}"), staff=True)
    assert "Lihat Surat" in card
    for staff in (PROTOKOL, VIEWER, AJUDAN):  # a pemantau views; the Wakil Wali Kota's ajudan too
        await h.say(staff, PressIn(f"g:letter:{request_id}"), staff=True)
        [letter] = documents(h)
        assert letter.file == LETTER and "AUD-2026-000001" in letter.caption and "surat.pdf" in letter.caption
    await h.say(REP, PressIn(f"g:letter:{request_id}"))
    assert documents(h)  # their own
    other = Address("console", "warga-lain")
    reply = await h.say(other, PressIn(f"g:letter:{request_id}"))
    assert not documents(h) and "tidak berwenang" in reply
    stranger = Address("console", "bukan-petugas")
    await h.say(stranger, PressIn(f"g:letter:{request_id}"), staff=True)
    assert not documents(h) and isinstance(h.last[0], Refusal)
    assert "tidak ditemukan" in await h.say(PROTOKOL, PressIn("g:letter:999"), staff=True)


async def test_an_ajudan_gets_no_letter_of_another_officials_request(h: Harness) -> None:
    request_id = await with_letter(h, REP, "1")  # the Wali Kota
    reply = await h.say(AJUDAN, PressIn(f"g:letter:{request_id}"), staff=True)
    assert not documents(h) and "tidak berwenang" in reply
