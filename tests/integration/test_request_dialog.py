"""A representative requests an audience: dialogs as data, on memory, SQLite and PostgreSQL storage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import text

from handlers.domain.model import Action, Address, AudienceRequest, RequestStatus
from handlers.messages import PressIn, TextIn
from tests.harness import MAKASSAR, PROTOKOL, Harness, build_service, reply_text

REP = Address("console", "warga-1")

# The whole happy path: each line is what the person types and something the reply must say.
HAPPY = [
    ("/mulai", "Selamat datang di layanan audiensi Pemerintah Kota Makassar"),
    ("1", "Apa nama organisasi Bapak/Ibu?"),
    ("Karang Taruna Kelurahan Maccini", "Apa jenis organisasi tersebut?"),
    ("4", "nomor registrasi organisasi"),
    ("lewati", "Siapa nama lengkap Bapak/Ibu?"),
    ("Andi Rahmat Hidayat", "Apa jabatan Bapak/Ibu di organisasi?"),
    ("Ketua", "nomor telepon"),
    ("0812-3456-7890", "Pejabat mana yang ingin Bapak/Ibu temui?"),
    ("2", "Apa perihal audiensi ini?"),
    ("Silaturahmi dan pelaporan pelantikan pengurus periode 2026–2031", "jelaskan secara singkat"),
    ("Kami ingin melaporkan susunan pengurus baru dan menjajaki kerja sama program kepemudaan.", "Berapa orang"),
    ("5", "paling banyak tiga waktu"),
    ("1", "Waktu yang masih kosong pada Rabu, 25 November 2026"),  # the first free date: 2 working days ahead
    ("2", "Dicatat: Rabu, 25 November 2026 pukul 09.00 WITA."),  # 08.00, 09.00, …
    ("07/12/2026 10:00", "Senin, 7 Desember 2026 pukul 10.00 WITA — benar?"),  # typed: echoed, then confirmed
    ("Ya", "Dicatat: Senin, 7 Desember 2026 pukul 10.00 WITA."),
    ("Selesai", "nomor surat permohonan"),
    ("005/12/KT-MKS/XI/2026", "Mohon periksa kembali permohonan Bapak/Ibu"),
    ("Kirim", "kode permohonan AUD-2026-000001"),
]
STEP_PROMPTS = [expected for _said, expected in HAPPY]


def until(prompt_fragment: str) -> list[tuple[str, str]]:
    """The happy path up to (and including) the answer that brings up the given prompt."""
    index = next(i for i, (_s, expected) in enumerate(HAPPY) if prompt_fragment in expected)
    return HAPPY[: index + 1]


async def test_the_whole_request_is_stored_and_staff_are_told(h: Harness) -> None:
    await h.dialog(REP, HAPPY)
    [request] = await h.requests_of(REP)
    assert request.reference == "AUD-2026-000001"
    assert request.status is RequestStatus.SUBMITTED
    assert request.organization.name == "Karang Taruna Kelurahan Maccini"
    assert request.organization.registration_number is None
    assert request.representative.phone == "+6281234567890"
    assert request.official_key == "wakil-walikota"
    assert request.attendees == 5
    assert request.letter_number == "005/12/KT-MKS/XI/2026"
    assert request.preferred_times == (
        datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR),
        datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR),
    )
    staff_notices = await h.notifications(Address("console", "staf:protokol"))
    assert len(staff_notices) == 1
    card = "\n".join(m.body for m in staff_notices[0].messages)
    assert "Permohonan audiensi baru AUD-2026-000001" in card
    assert "Karang Taruna Kelurahan Maccini" in card and "telepon 0812-3456-7890" in card  # stored in E.164
    reply = await h.say(REP, "/status")
    assert "AUD-2026-000001" in reply and "Menunggu keputusan" in reply


async def test_the_summary_shows_every_answer_before_sending(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    summary = await h.say(REP, "/bantuan")
    for shown in ("Karang Taruna Kelurahan Maccini", "Andi Rahmat Hidayat", "Ketua", "0812-3456-7890",
                  "Wakil Wali Kota Makassar", "5 orang", "Senin, 7 Desember 2026 pukul 10.00 WITA",
                  "005/12/KT-MKS/XI/2026", "1. Kirim", "2. Ubah jawaban", "3. Batalkan"):  # fmt: skip
        assert shown in summary


LONG = "x" * 5000
EMOJI = "😀🙏🎉"
PICK_ORG_TYPE = "Contoh: ketik 1 untuk “Ormas (organisasi kemasyarakatan)”"
PICK_OFFICIAL = "Contoh: ketik 1 untuk “Wali Kota Makassar”"
UNREADABLE_DATE = "belum dapat memahami tanggal tersebut. Mohon tuliskan seperti “"

# For every step: empty, 5,000 characters, emoji only, and wrong formats. Each refusal is polite, in Indonesian,
# gives an example, and the same question is asked again.
BAD_INPUTS = [
    ("Apa nama organisasi", "", "tidak boleh kosong. Contoh: Karang Taruna Kelurahan Sukamaju"),
    ("Apa nama organisasi", LONG, "terlalu panjang (5000 karakter); maksimal 150 karakter. Contoh:"),
    ("Apa nama organisasi", EMOJI, "bukan hanya simbol atau emoji. Contoh:"),
    ("Apa nama organisasi", "ab", "terlalu singkat; mohon tulis paling sedikit 3 karakter. Contoh:"),
    ("Apa jenis organisasi", "", PICK_ORG_TYPE),
    ("Apa jenis organisasi", LONG, PICK_ORG_TYPE),
    ("Apa jenis organisasi", EMOJI, PICK_ORG_TYPE),
    ("Apa jenis organisasi", "9", PICK_ORG_TYPE),
    ("Apa jenis organisasi", "koperasi", PICK_ORG_TYPE),
    ("nomor registrasi organisasi", "", "tidak boleh kosong. Contoh: AHU-0012345.AH.01.07.2024"),
    ("nomor registrasi organisasi", LONG, "terlalu panjang (5000 karakter); maksimal 64 karakter. Contoh:"),
    ("nomor registrasi organisasi", EMOJI, "bukan hanya simbol atau emoji. Contoh: AHU-0012345.AH.01.07.2024"),
    ("nomor registrasi organisasi", "!!!", "Contoh: AHU-0012345.AH.01.07.2024"),
    ("nomor registrasi organisasi", "<b>AHU-1</b>", "hanya boleh berisi huruf, angka, titik, garis miring"),
    ("Siapa nama lengkap", "", "tidak boleh kosong. Contoh: Andi Rahmat Hidayat, S.Sos."),
    ("Siapa nama lengkap", LONG, "terlalu panjang (5000 karakter); maksimal 100 karakter. Contoh:"),
    ("Siapa nama lengkap", "😀", "bukan hanya simbol atau emoji"),
    ("Siapa nama lengkap", "Andi 123", "hanya boleh berisi huruf"),
    ("Siapa nama lengkap", "<b>Andi</b>", "hanya boleh berisi huruf, spasi, titik, koma"),
    ("Apa jabatan", "", "tidak boleh kosong. Contoh: Ketua"),
    ("Apa jabatan", LONG, "terlalu panjang (5000 karakter); maksimal 80 karakter. Contoh: Ketua"),
    ("Apa jabatan", EMOJI, "bukan hanya simbol atau emoji. Contoh: Ketua"),
    ("Apa jabatan", "K", "paling sedikit 3 karakter. Contoh: Ketua"),
    ("nomor telepon", "", "Mohon kirimkan nomor telepon. Contoh: 0812-3456-7890"),
    ("nomor telepon", LONG, "Mohon gunakan angka saja. Contoh: 0812-3456-7890"),
    ("nomor telepon", EMOJI, "Mohon gunakan angka saja. Contoh: 0812-3456-7890"),
    ("nomor telepon", "12345", "bukan nomor telepon Indonesia yang valid. Contoh: 0812-3456-7890"),
    ("nomor telepon", "nomor saya 0812", "Mohon gunakan angka saja"),
    ("nomor telepon", "+1 202 555 0143", "bukan nomor telepon Indonesia"),
    ("Pejabat mana", "", PICK_OFFICIAL),
    ("Pejabat mana", LONG, PICK_OFFICIAL),
    ("Pejabat mana", EMOJI, PICK_OFFICIAL),
    ("Pejabat mana", "Presiden", PICK_OFFICIAL),
    ("Pejabat mana", "0", PICK_OFFICIAL),
    ("Apa perihal", "", "tidak boleh kosong. Contoh: Silaturahmi dan pelaporan"),
    ("Apa perihal", LONG, "terlalu panjang (5000 karakter); maksimal 200 karakter. Contoh:"),
    ("Apa perihal", EMOJI, "bukan hanya simbol atau emoji. Contoh: Silaturahmi dan pelaporan"),
    ("Apa perihal", "Halo", "terlalu singkat; mohon tulis paling sedikit 3 kata. Contoh: Silaturahmi dan"),
    ("Apa perihal", "Silaturahmi pengurus", "paling sedikit 3 kata. Contoh: Silaturahmi dan pelaporan"),
    ("jelaskan secara singkat", "", "tidak boleh kosong. Contoh: Kami ingin melaporkan"),
    ("jelaskan secara singkat", LONG, "terlalu panjang (5000 karakter); maksimal 1500 karakter. Contoh:"),
    ("jelaskan secara singkat", "🙏", "bukan hanya simbol atau emoji. Contoh: Kami ingin melaporkan"),
    ("jelaskan secara singkat", "Kami ingin bertemu", "paling sedikit 4 kata. Contoh: Kami ingin melaporkan"),
    ("Berapa orang", "", "Mohon tulis jumlah peserta dengan angka. Contoh: 5"),
    ("Berapa orang", LONG, "Mohon tulis jumlah peserta dengan angka. Contoh: 5"),
    ("Berapa orang", EMOJI, "Mohon tulis jumlah peserta dengan angka. Contoh: 5"),
    ("Berapa orang", "banyak", "Mohon tulis jumlah peserta dengan angka. Contoh: 5"),
    ("Berapa orang", "0", "Peserta paling sedikit satu orang. Contoh: 5"),
    ("Berapa orang", "51", "paling banyak 50 orang. Pertemuan yang lebih besar (forum, sarasehan) diatur tersendiri"),
    ("Berapa orang", "100", "paling banyak 50 orang"),
    ("paling banyak tiga waktu", "", UNREADABLE_DATE),
    ("paling banyak tiga waktu", LONG, UNREADABLE_DATE),
    ("paling banyak tiga waktu", EMOJI, UNREADABLE_DATE),
    ("paling banyak tiga waktu", "31/02/2027 10:00", "Tanggal tersebut tidak ada. Contoh: 7 Desember 2026 jam 10"),
    ("paling banyak tiga waktu", "kapan saja", UNREADABLE_DATE),
    ("paling banyak tiga waktu", "Senin, 8 Desember 2026 jam 10", "Hari dan tanggal tidak cocok"),
    ("paling banyak tiga waktu", "jam 10", "Mohon tuliskan juga tanggalnya"),
    ("nomor surat permohonan", "", "tidak boleh kosong. Contoh: 005/12/KT/VII/2026"),
    ("nomor surat permohonan", LONG, "terlalu panjang (5000 karakter); maksimal 64 karakter. Contoh:"),
    ("nomor surat permohonan", EMOJI, "bukan hanya simbol atau emoji. Contoh: 005/12/KT/VII/2026"),
    ("nomor surat permohonan", "tanpa nomor", "Contoh: 005/12/KT/VII/2026"),
]


@pytest.mark.parametrize(("prompt", "typed", "error"), BAD_INPUTS,
                         ids=[f"{p[:12]}:{t[:10] or 'empty'}" for p, t, _ in BAD_INPUTS])  # fmt: skip
async def test_bad_input_gets_a_polite_example_and_the_step_stays(
    h: Harness, prompt: str, typed: str, error: str
) -> None:
    prefix = until(prompt)
    await h.dialog(REP, prefix)
    reply = await h.say(REP, typed)
    assert error in reply
    assert prompt in reply  # the same question again
    refusal = h.last[0].body  # the refusal comes first, then the question again
    assert error in refusal and any(w in refusal for w in ("Contoh: ", "seperti “", "misalnya “")), refusal
    assert await h.requests_of(REP) == []
    # And the conversation carries on from there with a good answer.
    following = HAPPY[len(prefix)]
    assert following[1] in await h.say(REP, following[0])


# Free-text steps keep exactly what was typed, markup and SQL included: stored through bound parameters, shown as
# plain text. (Steps with a fixed form — name, registration, phone — refuse such text politely, see BAD_INPUTS.)
VERBATIM = [
    ("Karang Taruna Kelurahan Maccini", "<b>Karang</b> *Taruna* _[Maccini](http://x)_ '); DROP TABLE organization;--",
     lambda r: r.organization.name),
    ("Ketua", "<i>Ketua</i> `Umum`'; DROP TABLE representative;--", lambda r: r.position),
    ("Silaturahmi dan pelaporan pelantikan pengurus periode 2026–2031",
     "<script>alert(1)</script> *Silaturahmi* pengurus'); DROP TABLE audience_request;--", lambda r: r.subject),
    ("Kami ingin melaporkan susunan pengurus baru dan menjajaki kerja sama program kepemudaan.",
     "**Kami** ingin <b>melaporkan</b> [pengurus](http://x) baru\n\n'); DELETE FROM audit_event;-- ${{7*7}}",
     lambda r: r.description),
    ("005/12/KT-MKS/XI/2026", "005/<b>12</b>/*KT*_MKS'); --", lambda r: r.letter_number),
]  # fmt: skip


@pytest.mark.parametrize(("replaces", "tricky", "stored"), VERBATIM, ids=["org", "position", "subject", "description",
                                                                         "letter"])  # fmt: skip
async def test_markup_and_sql_looking_text_is_kept_verbatim(
    h: Harness, replaces: str, tricky: str, stored: Callable[[AudienceRequest], str]
) -> None:
    script = [(tricky if said == replaces else said, expected) for said, expected in HAPPY]
    await h.dialog(REP, script)
    [request] = await h.requests_of(REP)
    assert stored(request) == tricky
    card = "\n".join(m.body for n in await h.notifications(PROTOKOL) for m in n.messages)
    assert tricky in card


@pytest.mark.parametrize("attendees", ["1", "50"])
async def test_attendees_from_one_to_fifty_are_accepted(h: Harness, attendees: str) -> None:
    await h.dialog(REP, [(attendees if said == "5" else said, e) for said, e in HAPPY])
    [request] = await h.requests_of(REP)
    assert request.attendees == int(attendees)


@pytest.mark.parametrize("typed", ["0812-3456-7890", "+62 812 3456 7890", "6281234567890", "081234567890"])
async def test_common_phone_forms_are_stored_as_e164(h: Harness, typed: str) -> None:
    await h.dialog(REP, [(typed if said == "0812-3456-7890" else said, e) for said, e in HAPPY])
    [request] = await h.requests_of(REP)
    assert request.representative.phone == "+6281234567890"
    assert "0812-3456-7890" in await h.say(PROTOKOL, PressIn(f"g:open:{request.id}"), staff=True)


async def test_back_goes_one_step_and_shows_the_current_answer(h: Harness) -> None:
    await h.dialog(REP, until("Apa jabatan"))
    reply = await h.say(REP, "/kembali")
    assert "Siapa nama lengkap Bapak/Ibu?" in reply and "Andi Rahmat Hidayat" in reply
    assert "Apa jabatan" in await h.say(REP, "Andi R. Hidayat")
    await h.say(REP, "/kembali")
    await h.say(REP, "/kembali")
    reply = await h.say(REP, "/kembali")
    assert "Apa jenis organisasi" in reply
    await h.say(REP, "/kembali")
    assert "Ini adalah langkah pertama" in await h.say(REP, "/kembali")


async def test_abandoning_asks_first_and_can_be_declined(h: Harness) -> None:
    assert "Tidak ada formulir yang sedang diisi" in await h.say(REP, "/batal")
    await h.dialog(REP, until("Apa jabatan"))
    reply = await h.say(REP, "/batal")
    assert "Batalkan “Permohonan audiensi”?" in reply
    assert "Apa jabatan" in await h.say(REP, "2")  # no, continue
    await h.say(REP, "/batal")
    reply = await h.say(REP, "1")
    assert "Pengisian formulir telah dibatalkan" in reply and "Ajukan Audiensi" in reply
    assert await h.requests_of(REP) == []
    assert "Apa nama organisasi" in await h.say(REP, "/ajukan")  # a fresh form, nothing remembered


async def test_one_answer_can_be_changed_from_the_summary(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    assert "Bagian mana yang ingin Bapak/Ibu ubah?" in await h.say(REP, "Ubah jawaban")
    reply = await h.say(REP, "Perwakilan")
    assert "Jawaban mana yang ingin Bapak/Ibu ubah?" in reply and "Nomor telepon" in reply
    assert "Di nomor telepon berapa" in await h.say(REP, "Nomor telepon")
    summary = await h.say(REP, "+62 811 4455 6677")
    assert "Mohon periksa kembali" in summary  # only that answer was asked
    assert "0811-4455-6677" in summary and "Andi Rahmat Hidayat" in summary and "Ketua" in summary
    await h.say(REP, "Kirim")
    [request] = await h.requests_of(REP)
    assert request.representative.phone == "+6281144556677"
    assert (request.representative.full_name, request.position) == ("Andi Rahmat Hidayat", "Ketua")


async def test_a_part_with_one_question_is_asked_at_once(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    await h.say(REP, "Ubah jawaban")
    assert "Berapa orang" in await h.say(REP, "Jumlah peserta")
    summary = await h.say(REP, "7")
    assert "Mohon periksa kembali" in summary and "7 orang" in summary


async def test_another_official_asks_for_the_times_again(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    await h.say(REP, "Ubah jawaban")
    await h.say(REP, "Pejabat")
    reply = await h.say(REP, "Wali Kota Makassar")
    assert "paling banyak tiga waktu" in reply  # times chosen for the other official's calendar are gone
    assert "— benar?" in await h.say(REP, "08/12/2026 13:30")
    await h.say(REP, "Ya")
    summary = await h.say(REP, "Selesai")
    assert "Mohon periksa kembali" in summary and "Selasa, 8 Desember 2026 pukul 13.30 WITA" in summary


async def test_going_back_while_changing_keeps_the_earlier_answers(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    await h.say(REP, "Ubah jawaban")
    assert "paling banyak tiga waktu" in await h.say(REP, "Waktu yang diusulkan")
    summary = await h.say(REP, "/kembali")
    assert "Mohon periksa kembali" in summary and "Senin, 7 Desember 2026" in summary
    assert "kode permohonan" in await h.say(REP, "Kirim")  # nothing lost, nothing to crash on


async def test_typing_lewati_at_a_question_that_must_be_answered_is_not_taken_as_the_answer(h: Harness) -> None:
    await h.dialog(REP, until("Siapa nama lengkap"))
    reply = await h.say(REP, "lewati")
    assert "tidak dapat dilewati" in reply and "Siapa nama lengkap" in reply


async def test_asking_again_during_a_form_continues_it(h: Harness) -> None:
    await h.dialog(REP, until("Apa jabatan"))
    reply = await h.say(REP, "/ajukan")
    assert "sedang mengisi formulir ini" in reply and "Apa jabatan" in reply
    await h.dialog(REP, HAPPY[6:])
    assert len(await h.requests_of(REP)) == 1


async def test_changing_the_times_collects_them_again(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    await h.say(REP, "Ubah jawaban")
    reply = await h.say(REP, "Waktu yang diusulkan")
    assert "paling banyak tiga waktu" in reply and "Sudah dipilih" not in reply
    assert "— benar?" in await h.say(REP, "08/12/2026 13:30")
    await h.say(REP, "Ya")
    summary = await h.say(REP, "Selesai")
    assert "Selasa, 8 Desember 2026 pukul 13.30 WITA" in summary
    assert "Senin, 7 Desember 2026" not in summary


async def test_a_restart_in_the_middle_continues_at_the_same_step(h: Harness) -> None:
    await h.dialog(REP, until("Pejabat mana"))
    restarted, _ = build_service(h.uow_factory, h.clock)  # a new process over the same database
    h.service = restarted
    reply = await h.say(REP, "/mulai")
    assert "masih memiliki formulir yang sedang diisi" in reply and "Pejabat mana" in reply
    await h.dialog(REP, HAPPY[8:])
    [request] = await h.requests_of(REP)
    assert request.organization.name == "Karang Taruna Kelurahan Maccini"


async def test_an_old_button_is_answered_politely_and_changes_nothing(h: Harness) -> None:
    await h.dialog(REP, until("Apa jabatan"))
    reply = await h.say(REP, PressIn("ormas"))
    assert "sudah tidak berlaku" in reply and "Apa jabatan" in reply


def pressed(h: Harness, label: str) -> PressIn:
    """Press the button with this label on the last message, as a chat app sends it back."""
    for message in h.last:
        for option in getattr(message, "options", ()):
            if option.label == label:
                return PressIn(option.key)
    raise AssertionError(f"no button {label!r}")


async def test_a_button_only_answers_the_question_it_came_with(h: Harness) -> None:
    await h.dialog(REP, until("nomor registrasi"))
    old_skip = pressed(h, "Lewati")
    await h.say(REP, "AHU-0012345.AH.01.07.2024")  # typed: the keyboard with "Lewati" stays in the chat
    await h.dialog(REP, HAPPY[5:17])
    assert "nomor surat permohonan" in h.last[-1].body and pressed(h, "Lewati") != old_skip
    reply = await h.say(REP, old_skip)  # the registration step's "Lewati", pressed at the letter step
    assert "milik pertanyaan sebelumnya" in reply and "nomor surat permohonan" in reply
    assert "kode permohonan" not in await h.say(REP, "005/12/KT-MKS/XI/2026")  # still asked, not skipped
    summary = await h.say(REP, pressed(h, "Kirim"))
    assert "kode permohonan AUD-2026-000001" in summary


async def test_a_button_from_someone_elses_conversation_changes_nothing(h: Harness) -> None:
    other = Address(REP.channel, "another-representative")
    await h.dialog(other, until("nomor registrasi"))
    their_skip = pressed(h, "Lewati")
    await h.dialog(REP, until("nomor registrasi"))
    reply = await h.say(REP, their_skip)
    assert "milik orang lain" in reply and "nomor registrasi" in reply
    assert "Siapa nama lengkap" in await h.say(REP, pressed(h, "Lewati"))  # their own button works


async def test_unknown_commands_and_idle_chatter_lead_back_to_the_menu(h: Harness) -> None:
    assert "Perintah /halo tidak dikenal" in await h.say(REP, "/halo")
    reply = await h.say(REP, "selamat pagi")
    assert "Silakan pilih dari menu" in reply and "Ajukan Audiensi" in reply
    assert "/ajukan" in await h.say(REP, "3")  # Bantuan


async def test_reference_codes_are_sequential_per_year_and_never_repeat(h: Harness) -> None:
    await h.dialog(REP, HAPPY)
    other = Address("console", "warga-2")
    await h.dialog(other, [*HAPPY[:-1], ("Kirim", "AUD-2026-000002")])
    h.clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=MAKASSAR))  # a new year: the numbers start again
    # Tuesday 5 January is Isra Mikraj: the two working days of notice are Wednesday and Thursday.
    times = [("1", "Kamis, 7 Januari 2027"), ("1", "Dicatat"), ("Selesai", "nomor surat permohonan")]
    await h.dialog(REP, [*until("paling banyak tiga waktu")[1:], *times, *HAPPY[-2:-1], ("Kirim", "AUD-2027-000001")])


async def test_submission_records_an_audit_event(h: Harness) -> None:
    await h.dialog(REP, HAPPY)
    [request] = await h.requests_of(REP)
    async with h.uow() as uow:
        events = await uow.audit.for_request(request.id or 0)
    assert [(e.action, e.from_status, e.to_status, e.actor.name) for e in events] == [
        (Action.SUBMIT, None, RequestStatus.SUBMITTED, "Andi Rahmat Hidayat")
    ]


def as_filed_by(name: str, phone: str, registration: str = "lewati") -> list[tuple[str, str]]:
    """The happy path with another representative's name and phone (and the organization's registration)."""
    replaced = {"Andi Rahmat Hidayat": name, "0812-3456-7890": phone, "lewati": registration}
    return [(replaced.get(said, said), expected) for said, expected in HAPPY[:-1]]


async def test_a_later_request_from_the_same_account_leaves_the_earlier_one_as_filed(h: Harness) -> None:
    u2 = Address("console", "warga-2")
    await h.dialog(u2, [*as_filed_by("Andi Rahmat", "+62812345678901"), ("Kirim", "AUD-2026-000001")])
    first = await h.request("AUD-2026-000001")
    await h.say(PROTOKOL, PressIn(f"g:open:{first.id}"), staff=True)
    for said in ("Setujui", "1", "1", "1"):  # 25 November 09.00, the official's room, confirm
        await h.say(PROTOKOL, said, staff=True)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.APPROVED
    # Another person files from the same account, for the same organization, now with its registration number.
    later = as_filed_by("Budi Santoso", "0813-1111-2222", "AHU-0012345.AH.01.07.2024")
    only_typed_time = [("07/12/2026 10:00", "— benar?"), ("Ya", "Dicatat"), ("Selesai", "nomor surat permohonan")]
    await h.dialog(u2, [*later[:12], *only_typed_time, *later[17:], ("Kirim", "AUD-2026-000002")])

    first_card = await h.say(PROTOKOL, PressIn(f"g:open:{first.id}"), staff=True)
    assert "Perwakilan: Andi Rahmat, Ketua; telepon 0812-3456-78901" in first_card
    assert "Budi Santoso" not in first_card and "0813-1111-2222" not in first_card
    assert "belum terdaftar" in first_card
    second = await h.request("AUD-2026-000002")
    second_card = await h.say(PROTOKOL, PressIn(f"g:open:{second.id}"), staff=True)
    assert "Perwakilan: Budi Santoso, Ketua; telepon 0813-1111-2222" in second_card
    assert "AHU-0012345.AH.01.07.2024" in second_card
    assert (first.representative.full_name, first.representative.phone) == ("Andi Rahmat", "+62812345678901")
    # Whoever cancels it now, the earlier request's history still names the person who filed it.
    async with h.uow() as uow:
        events = await uow.audit.for_request(first.id or 0)
    assert events[0].actor.name == "Andi Rahmat"
    assert "AUD-2026-000001" in await h.say(u2, "/status")


async def test_the_description_prompt_gives_an_example(h: Harness) -> None:
    await h.dialog(REP, until("Apa perihal"))
    prompt = await h.say(REP, HAPPY[9][0])
    assert "paling sedikit empat kata" in prompt
    assert "Contoh: Kami ingin melaporkan susunan pengurus baru" in prompt


async def test_the_staff_card_lines_start_with_a_capital(h: Harness) -> None:
    await h.dialog(REP, HAPPY)
    request = await h.request("AUD-2026-000001")
    await h.say(PROTOKOL, PressIn(f"g:open:{request.id}"), staff=True)
    for said in ("Setujui", "1", "1", "1"):
        await h.say(PROTOKOL, said, staff=True)
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request.id}"), staff=True)
    assert "\nPengingat sehari kerja sebelumnya: dijadwalkan Selasa, 24 November 2026 pukul 09.00 WITA" in card
    assert [line for line in card.splitlines() if line[:1].islower()] == []


async def test_two_submissions_at_the_same_moment_get_distinct_references(sql_h: Harness) -> None:
    people = [Address("console", f"warga-{n}") for n in range(1, 5)]
    for person in people:
        await sql_h.dialog(person, HAPPY[:-1])
    replies = await asyncio.gather(*(sql_h.say(person, "Kirim") for person in people))
    references = sorted([r.reference for p in people for r in await sql_h.requests_of(p)])
    assert references == [f"AUD-2026-00000{n}" for n in range(1, 5)]
    assert all("kode permohonan AUD-2026-00000" in reply for reply in replies)


async def test_a_reference_is_never_reused_after_a_cancelled_or_deleted_request(h: Harness) -> None:
    await h.dialog(REP, HAPPY)
    for said in ("/status", "Batalkan AUD-2026-000001", "Kami sudah bertemu pejabat pada acara lain.", "1"):
        await h.say(REP, said)
    assert (await h.request("AUD-2026-000001")).status is RequestStatus.CANCELLED
    await h.dialog(REP, [*HAPPY[:-1], ("Kirim", "kode permohonan AUD-2026-000002")])
    second = await h.request("AUD-2026-000002")
    await _delete_request(h, second.id or 0)  # an operator removes it from the database
    assert await h.requests_of(REP) == [await h.request("AUD-2026-000001")]
    await h.dialog(REP, [*HAPPY[:-1], ("Kirim", "kode permohonan AUD-2026-000003")])


async def _delete_request(h: Harness, request_id: int) -> None:
    if h.memory is not None:
        del h.memory.data.requests[request_id]
        return
    assert h.engine is not None
    async with h.engine.begin() as connection:
        for table in ("outbox", "audit_event", "channel_message", "booking"):
            await connection.execute(text(f"DELETE FROM {table} WHERE request_id = :id"), {"id": request_id})
        await connection.execute(text("DELETE FROM audience_request WHERE id = :id"), {"id": request_id})


async def test_a_form_sent_a_month_later_drops_its_past_times_and_asks_for_new_ones(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    h.clock.advance(days=30)  # the summary waited; both preferred times have passed (23 December now)
    reply = await h.say(REP, "Kirim")
    assert "Rabu, 25 November 2026 pukul 09.00 WITA sudah lewat" in reply
    assert "Senin, 7 Desember 2026 pukul 10.00 WITA sudah lewat" in reply
    assert "paling banyak tiga waktu" in reply and "Sudah dipilih" not in reply  # the time step again
    assert await h.requests_of(REP) == []  # nothing sent with past times
    assert "— benar?" in await h.say(REP, "11/01/2027 10:00")
    await h.say(REP, "Ya")
    summary = await h.say(REP, "Selesai")
    assert "Mohon periksa kembali" in summary and "Karang Taruna Kelurahan Maccini" in summary  # answers kept
    assert "kode permohonan" in await h.say(REP, "Kirim")
    [request] = await h.requests_of(REP)
    assert request.preferred_times == (datetime(2027, 1, 11, 10, 0, tzinfo=MAKASSAR),)


async def test_a_time_now_inside_the_minimum_notice_is_dropped_and_the_rest_is_shown_again(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    h.clock.advance(days=1)  # Tuesday: Wednesday 25 November is now too soon (two working days' notice)
    reply = await h.say(REP, "Kirim")
    assert "Rabu, 25 November 2026 pukul 09.00 WITA terlalu dekat" in reply and "telah dihapus" in reply
    assert "Mohon periksa kembali" in reply and "Senin, 7 Desember 2026 pukul 10.00 WITA" in reply
    assert await h.requests_of(REP) == []  # the person sees what is sent before it is
    assert "kode permohonan" in await h.say(REP, "Kirim")
    [request] = await h.requests_of(REP)
    assert request.preferred_times == (datetime(2026, 12, 7, 10, 0, tzinfo=MAKASSAR),)


async def test_the_abandon_question_takes_ya_and_tidak_typed_in_any_case(h: Harness) -> None:
    await h.dialog(REP, until("Apa jabatan"))
    for no in ("tidak", "Tdk", "bukan", "Tidak jadi"):
        assert "Batalkan “Permohonan audiensi”?" in await h.say(REP, "/batal")
        assert "Apa jabatan" in await h.say(REP, no), no
    await h.say(REP, "/batal")
    reply = await h.say(REP, "Ya")
    assert "Pengisian formulir telah dibatalkan" in reply
    await h.say(REP, "/ajukan")
    await h.say(REP, "/batal")
    assert "Pengisian formulir telah dibatalkan" in await h.say(REP, "iya.")


async def test_the_hint_at_the_abandon_question_names_numbers_only_where_they_are_shown(h: Harness) -> None:
    await h.dialog(REP, until("Apa jabatan"))
    await h.say(REP, "/batal")
    console = await h.say(REP, "mungkin")
    assert "Mohon jawab “ya” (atau 1)" in console and "Batalkan “Permohonan audiensi”?" in console
    telegram = Address("telegram", "555")  # buttons carry no numbers there

    async def say(text: str) -> str:
        return reply_text(await h.service.handle(telegram, TextIn(text), numbered_above=None))

    await say("/ajukan")
    await say("/batal")
    hint = await say("mungkin")
    assert "Mohon jawab “ya” untuk membatalkan" in hint and "atau 1" not in hint
    assert "Apa nama organisasi" in await say("tidak")  # the form goes on


async def test_going_back_to_the_times_keeps_them_and_the_last_one_can_be_removed(h: Harness) -> None:
    await h.dialog(REP, until("nomor surat permohonan"))  # two times chosen, then "Selesai"
    reply = await h.say(REP, "/kembali")
    assert "paling banyak tiga waktu" in reply and "Sudah dipilih" in reply
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" in reply and "Senin, 7 Desember 2026 pukul 10.00 WITA" in reply
    assert "Selesai" in reply and "Hapus yang terakhir" in reply
    reply = await h.say(REP, "Hapus yang terakhir")
    assert "Dihapus: Senin, 7 Desember 2026 pukul 10.00 WITA." in reply
    assert "Rabu, 25 November 2026 pukul 09.00 WITA" in reply.split("Sudah dipilih")[1]
    assert "nomor surat permohonan" in await h.say(REP, "Selesai")
    await h.dialog(REP, HAPPY[-2:])
    [request] = await h.requests_of(REP)
    assert request.preferred_times == (datetime(2026, 11, 25, 9, 0, tzinfo=MAKASSAR),)


async def test_going_back_never_loses_an_answer(h: Harness) -> None:
    await h.dialog(REP, HAPPY[:-1])
    assert "(Jawaban saat ini: 005/12/KT-MKS/XI/2026)" in await h.say(REP, "/kembali")  # the letter number
    assert "Sudah dipilih" in await h.say(REP, "/kembali")  # the times
    assert "(Jawaban saat ini: 5 orang)" in await h.say(REP, "/kembali")  # the attendees
    reply = await h.say(REP, "5")
    assert "Sudah dipilih" in reply and "Senin, 7 Desember 2026 pukul 10.00 WITA" in reply  # forward again: kept
    assert "nomor surat permohonan" in await h.say(REP, "Selesai")
    summary = await h.say(REP, "005/12/KT-MKS/XI/2026")
    assert "Rabu, 25 November 2026 pukul 09.00 WITA; Senin, 7 Desember 2026 pukul 10.00 WITA" in summary


async def test_back_at_a_full_list_asks_to_remove_one_before_adding(h: Harness) -> None:
    await h.dialog(REP, until("Dicatat: Senin, 7 Desember"))
    await h.say(REP, "08/12/2026 13:30")
    assert "nomor surat permohonan" in await h.say(REP, "Ya")  # the third time: the list is full
    await h.say(REP, "/kembali")
    await h.say(REP, "09/12/2026 10:00")
    reply = await h.say(REP, "Ya")
    assert "sudah memilih 3" in reply and "Hapus yang terakhir" in reply
    await h.say(REP, "Hapus yang terakhir")
    await h.say(REP, "09/12/2026 10:00")
    assert "nomor surat permohonan" in await h.say(REP, "Ya")


async def test_a_person_using_english_reads_english_examples_in_errors(h: Harness) -> None:
    english = Address("telegram", "777")

    async def say(text: str) -> str:
        return reply_text(await h.service.handle(english, TextIn(text), language="en", numbered_above=None))

    await say("/ajukan")
    reply = await say(" ")
    assert "This answer cannot be empty. Example: Karang Taruna of Sukamaju village" in reply
    assert "Kelurahan" not in reply
    await say("Karang Taruna Kelurahan Maccini")
    await say("Karang Taruna")
    await say("lewati")
    await say("Andi Rahmat Hidayat")
    reply = await say("K")
    assert "Example: Chair" in reply and "Ketua" not in reply
    reply = await say("Ketua")
    await say("0812-3456-7890")
    await say("Wakil Wali Kota Makassar")
    reply = await say("Silaturahmi")
    assert "Example: Courtesy visit and report on the installation of the 2026–2031 board" in reply
    await say("Silaturahmi dan pelaporan pengurus baru")
    reply = await say("Kami ingin")
    assert "Example: We would like to report our new board" in reply
    await say("We would like to report our new board and discuss youth programmes.")
    reply = await say("500")
    assert "please contact the office of the official you wish to meet" in reply and "Kesbangpol" not in reply


async def test_a_staff_place_example_is_the_officials_room_not_another_citys(h: Harness) -> None:
    await h.dialog(REP, HAPPY)
    [request] = await h.requests_of(REP)
    await h.say(PROTOKOL, PressIn(f"g:approve:{request.id}"), staff=True)
    await h.say(PROTOKOL, "1", staff=True)
    reply = await h.say(PROTOKOL, "R", staff=True)  # too short a place
    assert "Contoh: Ruang Kerja Wakil Wali Kota, Lantai 2 Balai Kota" in reply and "Sipakatau" not in reply


async def test_the_summary_names_single_answers_once_and_lists_times_by_date(h: Harness) -> None:
    script = until("Dicatat: Senin, 7 Desember")
    later_first = [*script[:12], ("07/12/2026 10:00", "— benar?"), ("Ya", "Dicatat"), ("1", "Waktu yang masih kosong"),
                   ("2", "Dicatat: Rabu, 25 November 2026 pukul 09.00 WITA.")]  # fmt: skip
    await h.dialog(REP, [*later_first, *HAPPY[16:-1]])
    summary = await h.say(REP, "/bantuan")
    assert "Pejabat: Wakil Wali Kota Makassar" in summary and "• Pejabat:" not in summary
    assert "Waktu yang diusulkan: Rabu, 25 November 2026 pukul 09.00 WITA; Senin, 7 Desember 2026" in summary
    assert "  • Nama: Karang Taruna Kelurahan Maccini" in summary  # a part with several answers lists them
    assert "Nomor telepon: 0812-3456-7890" in summary


async def test_the_card_names_the_organization_and_its_type_without_nested_brackets(h: Harness) -> None:
    script = [(s.replace("Karang Taruna Kelurahan Maccini", "LSM Peduli Pesisir"), e) for s, e in HAPPY]
    script[3] = ("2", script[3][1])  # LSM
    await h.dialog(REP, script)
    [request] = await h.requests_of(REP)
    card = await h.say(PROTOKOL, PressIn(f"g:open:{request.id}"), staff=True)
    assert "Organisasi: LSM Peduli Pesisir — LSM (lembaga swadaya masyarakat); belum terdaftar" in card


async def test_the_help_does_not_speak_of_buttons_only(h: Harness) -> None:
    reply = await h.say(REP, "/bantuan")
    assert "memilih salah satu pilihan yang ditampilkan" in reply and "menekan tombol" not in reply
