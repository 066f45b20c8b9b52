"""Stamped button keys always fit Telegram's 64 bytes of callback data, and come back as the key offered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.conversation.stamps import FOREIGN, KEY_LIMIT, stamp_turn, unstamp
from handlers.conversation.state import ConversationState
from handlers.messages import Choice, Option, PressIn

SALT = "telegram:-1001234567890:9001"
# The longest serial a conversation could reach in any lifetime (a question a second for 500 years is ~2**34).
SERIALS = st.integers(min_value=0, max_value=2**64)
KEYS = st.text(min_size=1, max_size=300).filter(lambda key: not key.startswith("g:"))


def offer(keys: list[str], serial: int) -> tuple[Choice, ConversationState]:
    before = ConversationState(serial=serial)
    options = tuple(Option(key, f"Pilihan {n}") for n, key in enumerate(keys))
    after = ConversationState(offered=options, serial=serial)
    messages, state = stamp_turn(before, after, [Choice("Pilih salah satu.", options)], SALT)
    choice = messages[0]
    assert isinstance(choice, Choice)
    return choice, state


@given(keys=st.lists(KEYS, min_size=1, max_size=5, unique=True), serial=SERIALS)
def test_every_stamped_key_fits_and_is_understood_again(keys: list[str], serial: int) -> None:
    choice, state = offer(keys, serial)
    for original, sent in zip(keys, choice.options, strict=True):
        assert len(sent.key.encode()) <= KEY_LIMIT
        assert unstamp(state, PressIn(sent.key), SALT) == PressIn(original)


def test_an_officials_key_of_the_longest_allowed_length_is_sent_hashed_and_understood() -> None:
    long_key = "kepala-dinas-pemberdayaan-perempuan-dan-perlindungan-anak-kota-x"
    assert len(long_key) == 64
    choice, state = offer([long_key, "walikota"], 16**12 - 1)
    hashed, short = (o.key for o in choice.options)
    assert hashed.startswith("h:") and len(hashed.encode()) <= KEY_LIMIT
    assert short.startswith("walikota~")  # short keys stay readable
    assert unstamp(state, PressIn(hashed), SALT) == PressIn(long_key)
    # Once the question has moved on, the same button is an old one.
    later = ConversationState(offered=state.offered, serial=state.serial + 1)
    assert unstamp(later, PressIn(hashed), SALT) == PressIn(FOREIGN)
    # And from someone else's conversation it is foreign too.
    assert unstamp(state, PressIn(hashed), "telegram:5001") == PressIn(FOREIGN)
