"""fit / split_message: exact limits, word boundaries, emoji never halved (lengths are code points)."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.whatsapp_text import ELLIPSIS, clean_template_param, fit, is_cut_allowed, split_message, unique_titles

THUMBS_MEDIUM = "👍🏽"  # base + skin-tone modifier (2 code points)
FAMILY = "👨\u200d👩\u200d👧"  # ZWJ sequence (5 code points)
FLAG_ID = "🇮🇩"  # regional-indicator pair (2 code points)
KEYCAP_ONE = "1\ufe0f\u20e3"  # digit + variation selector + enclosing keycap
E_ACUTE = "e\u0301"  # e + combining acute accent


def _is_extender(ch: str) -> bool:
    cp = ord(ch)
    return (
        ch in "\u200d\u200c"
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
    )


def _is_ri(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def assert_clean_cut(text: str, k: int) -> None:
    """text[:k] does not end inside an emoji / accented letter / flag (independent of the module's rule)."""
    if k in (0, len(text)):
        return
    assert not _is_extender(text[k]), f"cut before a continuation character {text[k]!r}"
    assert not (text[k - 1] == "\u200d" and not text[k].isspace()), "cut inside a ZWJ sequence"
    if _is_ri(text[k - 1]) and _is_ri(text[k]):
        run = len(text[:k]) - len(text[:k].rstrip("".join(chr(c) for c in range(0x1F1E6, 0x1F200))))
        assert run % 2 == 0, "cut inside a flag"


# --------------------------------------------------------------------------------------------- fit


@pytest.mark.parametrize("extra", [-1, 0])
def test_fit_returns_text_unchanged_at_or_below_the_limit(extra: int) -> None:
    text = "x" * (20 + extra)
    assert fit(text, 20) == text


def test_fit_one_over_the_limit_is_shortened_to_exactly_the_limit() -> None:
    assert fit("abcdefghijklmnopqrstu", 20) == "abcdefghijklmnopqrs" + ELLIPSIS
    assert len(fit("x" * 21, 20)) == 20


def test_fit_counts_code_points() -> None:
    assert fit("é" * 20, 20) == "é" * 20  # precomposed é is one code point
    assert len(THUMBS_MEDIUM) == 2 and len(FAMILY) == 5 and len(FLAG_ID) == 2


def test_fit_does_not_cut_a_word_when_a_space_is_near() -> None:
    assert fit("Usulkan jadwal lainnya", 20) == "Usulkan jadwal" + ELLIPSIS
    assert fit("Rapat koordinasi Kesbangpol", 22) == "Rapat koordinasi" + ELLIPSIS
    # however far back the space is, the last whole word ends the title: no word is cut
    assert fit("Usulkan waktu lainnya", 20) == "Usulkan waktu" + ELLIPSIS
    assert fit("Kepala Dinas Kependudukan dan Pencatatan Sipil", 24) == "Kepala Dinas" + ELLIPSIS


def test_fit_keeps_a_word_that_ends_exactly_at_the_budget() -> None:
    # limit 20 leaves 19 characters before "…"; here the 20th character is a space
    assert fit("Permohonan audiensi disetujui", 20) == "Permohonan audiensi" + ELLIPSIS
    assert fit("Permohonan audiens disetujui", 20) == "Permohonan audiens" + ELLIPSIS


def test_fit_cuts_a_word_only_when_the_first_word_alone_is_too_long() -> None:
    assert fit("Kesbangpol Kotamadya-Balikpapan-Selatan", 20) == "Kesbangpol" + ELLIPSIS
    assert fit("Kotamadya-Balikpapan-Selatan Kesbangpol", 20) == "Kotamadya-Balikpapa" + ELLIPSIS
    assert fit("  Kotamadya-Balikpapan-Selatan", 20) == "  Kotamadya-Balikpa" + ELLIPSIS  # leading blanks kept
    assert fit("a" * 50, 10) == "a" * 9 + ELLIPSIS


@pytest.mark.parametrize(
    "emoji",
    [
        THUMBS_MEDIUM,
        FAMILY,
        FLAG_ID,
        KEYCAP_ONE,
        E_ACUTE,
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    ],
)
@pytest.mark.parametrize("limit", range(2, 12))
def test_fit_never_leaves_half_an_emoji(emoji: str, limit: int) -> None:
    text = "ab" + emoji * 6
    result = fit(text, limit)
    assert len(result) <= limit
    head = result.removesuffix(ELLIPSIS)
    assert text.startswith(head)
    assert_clean_cut(text, len(head))
    rest = head[2:]
    assert rest == emoji * (len(rest) // len(emoji)), f"{head!r} ends inside {emoji!r}"


def test_fit_flags_stay_in_pairs() -> None:
    flags = "🇮🇩🇲🇾🇸🇬🇹🇭"
    for limit in range(1, len(flags)):
        head = fit(flags, limit).removesuffix(ELLIPSIS)
        assert len(head) % 2 == 0


def test_fit_tiny_limits() -> None:
    assert fit("halo", 0) == ""
    assert fit("halo", 1) == ELLIPSIS
    assert fit("", 0) == ""
    with pytest.raises(ValueError):
        fit("x", -1)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.characters(),
            st.sampled_from(
                [
                    " ",
                    " ",
                    "\n",
                    "kata",
                    "audiensi",
                    THUMBS_MEDIUM,
                    FAMILY,
                    FLAG_ID,
                    "🇮",
                    "\u200d",
                    "\u0301",
                    "\ufe0f",
                    "🏽",
                    KEYCAP_ONE,
                    "\r\n",
                ]
            ),
        ),
        max_size=60,
    ).map("".join),
    st.integers(min_value=10, max_value=80),
)
def test_fit_property(text: str, limit: int) -> None:
    result = fit(text, limit)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
        return
    assert result.endswith(ELLIPSIS)
    head = result[: -len(ELLIPSIS)]
    assert text.startswith(head)
    assert head == head.rstrip()
    k = len(head)
    assert_clean_cut(text, k)
    budget = limit - len(ELLIPSIS)
    first_word = len(text) - len(text.lstrip())
    window = text[first_word + 1 : budget + 1]
    if any(ch.isspace() for ch in window):
        # a prefix of whole words: the text continues with whitespace right after the head
        assert k == len(text) or text[k].isspace()
        assert head.split() == text.split()[: len(head.split())]


# ----------------------------------------------------------------------------------- split_message


def _words_text(length: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    words = [
        "audiensi",
        "Wali",
        "Kota",
        "Kesbangpol",
        "permohonan",
        "jadwal",
        "👍🏽",
        "🇮🇩",
        "rapat",
        "pukul",
        "10.00",
    ]
    out: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(words)
        sep = rng.choice([" ", " ", " ", "\n", "\n\n"])
        out.append(word + sep)
        size += len(word) + len(sep)
    return "".join(out)[:length]


def test_split_message_of_10000_characters() -> None:
    text = _words_text(10_000)
    parts = split_message(text, 4096)
    assert len(parts) >= 3
    assert all(0 < len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()
    for part in parts:
        assert part == part.strip()


@pytest.mark.parametrize("limit", [50, 99, 100, 101, 640])
def test_split_message_parts_fit_and_keep_the_words(limit: int) -> None:
    text = _words_text(10_000, seed=limit)
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert " ".join(parts).split() == text.split()


def test_split_message_exact_limits() -> None:
    assert split_message("a" * 99, 100) == ["a" * 99]
    assert split_message("a" * 100, 100) == ["a" * 100]
    assert split_message("a" * 101, 100) == ["a" * 100, "a"]
    assert split_message("", 100) == []
    assert split_message(" \n ", 100) == []


def test_split_message_prefers_paragraphs_then_lines_then_words() -> None:
    para_a = "Paragraf satu " * 4  # 56 characters
    para_b = "Paragraf dua " * 4
    assert split_message(f"{para_a}\n\n{para_b}", 100) == [para_a.strip(), para_b.strip()]
    lines = "Baris pertama yang cukup panjang sekali\nBaris kedua yang juga panjang sekali\nBaris ketiga"
    assert split_message(lines, 80) == [
        "Baris pertama yang cukup panjang sekali\nBaris kedua yang juga panjang sekali",
        "Baris ketiga",
    ]
    assert split_message("satu dua tiga empat lima", 10) == ["satu dua", "tiga empat", "lima"]


def test_split_message_never_halves_an_emoji() -> None:
    text = FAMILY * 30  # no spaces at all: must cut between families
    parts = split_message(text, 12)
    assert "".join(parts) == text
    assert all(len(p) <= 12 and p == FAMILY * (len(p) // len(FAMILY)) for p in parts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.characters(), st.sampled_from([" ", "\n", "\n\n", "kata", THUMBS_MEDIUM, FAMILY, FLAG_ID])),
        max_size=200,
    ).map("".join),
    st.integers(min_value=10, max_value=120),
)
def test_split_message_property(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


# ------------------------------------------------------------------------------------------- misc


def test_is_cut_allowed_examples() -> None:
    assert is_cut_allowed("ab", 1)
    assert not is_cut_allowed(THUMBS_MEDIUM, 1)
    assert not is_cut_allowed(FLAG_ID, 1)
    assert is_cut_allowed(FLAG_ID + FLAG_ID, 2)
    assert not any(is_cut_allowed(FAMILY, i) for i in range(1, len(FAMILY)))
    assert not is_cut_allowed("a\r\nb", 2)


def test_clean_template_param() -> None:
    assert clean_template_param("Senin,\n7 Juli\t2025     pukul 10.00") == "Senin, 7 Juli 2025 pukul 10.00"


# ----------------------------------------------------------------------------------- unique_titles


def test_titles_that_come_out_the_same_are_numbered() -> None:
    labels = ["Kepala Dinas Kependudukan dan Pencatatan Sipil", "Kepala Dinas Kependudukan Provinsi Sulsel",
              "Camat Ujung Pandang"]  # fmt: skip
    assert unique_titles(labels, 24) == ["Kepala Dinas" + ELLIPSIS, "Kepala Dinas" + ELLIPSIS + " (2)",
                                         "Camat Ujung Pandang"]  # fmt: skip
    assert unique_titles(["Ya", "Ya", "Ya"], 20) == ["Ya", "Ya (2)", "Ya (3)"]
    titles = unique_titles(["x" * 30, "x" * 31, "x" * 32, "x" * 20 + " (2)"], 20)
    assert len(set(titles)) == 4 and all(len(t) <= 20 for t in titles)
