"""Validators: what people type becomes a clean value, or a refusal that names what is expected."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import validators
from handlers.validators import Invalid

WITA = ZoneInfo("Asia/Makassar")


@pytest.mark.parametrize(
    "typed",
    ["0812-3456-7890", "081234567890", "+62 812 3456 7890", "62812-3456-7890", "+62-812-3456-7890",
     "(0812) 3456 7890", "0812.3456.7890", " 0812 3456 7890 "],
)  # fmt: skip
def test_common_indonesian_forms_become_e164(typed: str) -> None:
    assert validators.phone_number(typed) == "+6281234567890"


def test_a_landline_with_area_code_is_accepted() -> None:
    assert validators.phone_number("(0411) 312345") == "+62411312345"


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "12345", "0812", "+1 202 555 0143", "nomor saya 0812", "😀", "0812-3456-7890-1234-5678-9",
     "'; DROP TABLE representative; --", "<b>0812</b>", "9" * 40],
)  # fmt: skip
def test_invalid_numbers_are_refused_with_an_example(typed: str) -> None:
    with pytest.raises(Invalid) as refused:
        validators.phone_number(typed)
    assert refused.value.params["example"] == "0812-3456-7890"


@given(st.text(max_size=60))
@settings(max_examples=300)
def test_phone_validator_never_crashes_and_returns_valid_e164_or_refuses(typed: str) -> None:
    try:
        number = validators.phone_number(typed)
    except Invalid:
        return
    parsed = phonenumbers.parse(number)
    assert number.startswith("+62") and phonenumbers.is_valid_number(parsed)


@given(st.from_regex(r"8[1-9][0-9]{8,9}", fullmatch=True), st.sampled_from(["0{}", "+62{}", "62{}", "+62 {}"]))
@settings(max_examples=200)
def test_every_mobile_number_form_normalises_to_the_same_e164(digits: str, form: str) -> None:
    number = phonenumbers.parse("+62" + digits)
    if not phonenumbers.is_valid_number(number):
        return
    assert validators.phone_number(form.format(digits)) == "+62" + digits


def test_free_text_keeps_markup_and_sql_verbatim() -> None:
    for typed in ["<b>Rapat</b> & *penting* _sekali_ [x](y)", "Robert'); DROP TABLE audience_request;--"]:
        assert validators.free_text(typed, min_length=3, max_length=200, example="x") == typed


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [("", "cannot be empty"), ("   \n ", "cannot be empty"), ("😀😀😀", "not only symbols"),
     ("x" * 5000, "too long"), ("ab", "too short")],
)  # fmt: skip
def test_free_text_refusals_say_what_is_expected(typed: str, fragment: str) -> None:
    with pytest.raises(Invalid) as refused:
        validators.free_text(typed, min_length=3, max_length=200, example="Contoh")
    assert fragment in refused.value.msgid
    assert refused.value.params["example"] == "Contoh"


@given(st.text(max_size=400))
@settings(max_examples=400)
def test_free_text_result_is_clean_bounded_and_has_words(typed: str) -> None:
    try:
        cleaned = validators.free_text(typed, min_length=3, max_length=200, example="x")
    except Invalid:
        return
    assert 3 <= len(cleaned) <= 200
    assert cleaned == cleaned.strip()
    assert not any(ord(ch) < 32 for ch in cleaned)
    assert any(ch.isalnum() for ch in cleaned)


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), min_size=3, max_size=150))
def test_free_text_preserves_ordinary_text_modulo_whitespace(typed: str) -> None:
    try:
        cleaned = validators.free_text(typed, min_length=3, max_length=200, example="x")
    except Invalid:
        return
    # NFC-normalised (one code point per accented letter), otherwise exactly the person's words.
    assert cleaned.split() == unicodedata.normalize("NFC", typed).split()


def test_attendees_within_limit_and_forums_refused() -> None:
    assert validators.attendee_count("5", 50) == 5
    assert validators.attendee_count("12 orang", 50) == 12
    assert validators.attendee_count("lima", 50) == 5
    with pytest.raises(Invalid) as refused:
        validators.attendee_count("100", 50)
    assert "arranged by staff" in refused.value.msgid
    for bad in ("0", "-3", "banyak", "", "5.5"):
        with pytest.raises(Invalid):
            validators.attendee_count(bad, 50)


def test_typed_datetime_in_office_zone_and_future_only() -> None:
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    moment = validators.typed_datetime("07/12/2026 10:00", WITA, now)
    assert moment == datetime(2026, 12, 7, 10, 0, tzinfo=WITA)
    for bad, fragment in [("7 Desember", "DD/MM/YYYY"), ("31/02/2027 10:00", "does not exist"),
                          ("01/01/2020 10:00", "already passed"), ("07/12/2026 25:00", "does not exist")]:  # fmt: skip
        with pytest.raises(Invalid) as refused:
            validators.typed_datetime(bad, WITA, now)
        assert fragment in refused.value.msgid


@given(st.sampled_from("'’‘ʼʻ`´"), st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü", min_size=1, max_size=12))
def test_names_with_any_kind_of_apostrophe_are_kept_with_the_plain_one(apostrophe: str, rest: str) -> None:
    assert validators.person_name(f"Ma{apostrophe}{rest} Amin") == f"Ma'{rest} Amin"


def test_a_typographic_apostrophe_in_a_name_is_accepted() -> None:
    assert validators.person_name("Ma’ruf Amin") == "Ma'ruf Amin"
    assert validators.person_name("Nur‘aini ʼAisyah") == "Nur'aini 'Aisyah"


def test_names_allow_titles_and_refuse_digits() -> None:
    assert validators.person_name("Andi Rahmat Hidayat, S.Sos.") == "Andi Rahmat Hidayat, S.Sos."
    assert validators.person_name("Siti Nur'aini") == "Siti Nur'aini"
    for bad in ("Andi 123", "<script>", "x"):
        with pytest.raises(Invalid):
            validators.person_name(bad)


@pytest.mark.parametrize(
    ("typed", "min_words", "min_length", "refusal", "minimum"),
    [("Silaturahmi pengurus", 3, 10, "at least {min} words", 3),
     ("Silaturahmi — pengurus 🙏", 3, 10, "at least {min} words", 3),
     ("Rapat", 1, 10, "at least {min} characters", 10),
     ("a b c", 3, 10, "at least {min} characters", 10)],
)  # fmt: skip
def test_too_short_names_the_rule_that_was_broken(
    typed: str, min_words: int, min_length: int, refusal: str, minimum: int
) -> None:
    with pytest.raises(Invalid) as refused:
        validators.free_text(typed, min_length=min_length, max_length=200, min_words=min_words, example="Contoh")
    assert refusal in refused.value.msgid
    assert refused.value.params["min"] == minimum


def test_enough_words_and_characters_pass() -> None:
    assert validators.free_text("Silaturahmi pengurus baru", min_length=10, max_length=200, min_words=3,
                                example="x") == "Silaturahmi pengurus baru"  # fmt: skip
