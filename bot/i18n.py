"""Loading the gettext catalogs, and the extract / update / compile / check commands the CLI offers."""

from __future__ import annotations

import gettext
import io
import re
import string
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from handlers.i18n import Catalogs

DOMAIN = "audiensi"
LANGUAGES = ("id", "en")


def _translations(po_path: Path) -> gettext.GNUTranslations:
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    # No compiled catalog yet (a fresh checkout): compile in memory rather than fall back silently to English.
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def load_catalogs(locales_dir: Path) -> Catalogs:
    loaded: dict[str, gettext.NullTranslations] = {}
    for language in LANGUAGES:
        po_path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po_path.exists():
            loaded[language] = _translations(po_path)
        elif language == "en":
            loaded[language] = gettext.NullTranslations()  # message ids are English
    if "id" not in loaded:
        raise FileNotFoundError(f"the Indonesian catalog is missing under {locales_dir}")
    return Catalogs(loaded)


def _pybabel(*args: str, quiet: bool = False) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, capture_output=quiet)


def extract(root: Path) -> Path:
    pot = root / "locales" / f"{DOMAIN}.pot"
    _pybabel("extract", "-F", str(root / "babel.cfg"), "-k", "N_", "-k", "t", "-k", "plural:1,2",
             "--no-location", "--sort-output", "--omit-header", "-o", str(pot), str(root / "handlers"),
             str(root / "bot"))  # fmt: skip
    return pot


def update(root: Path) -> None:
    pot = extract(root)
    for language in LANGUAGES:
        po_path = root / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        verb = "update" if po_path.exists() else "init"
        extra = ["--no-fuzzy-matching", "--ignore-obsolete"] if verb == "update" else []
        if language == "id":  # the translated catalog is kept at the code's line width, so updates do not rewrap it
            extra += ["--width", "120"]
        _pybabel(verb, "-i", str(pot), "-d", str(root / "locales"), "-D", DOMAIN, "-l", language, *extra)
        _fix_plural_forms(po_path, language)


def _fix_plural_forms(po_path: Path, language: str) -> None:
    """Indonesian has one plural form; Babel writes two (DESIGN.md, known pitfalls)."""
    if language != "id":
        return
    text = po_path.read_text(encoding="utf-8")
    fixed = re.sub(r'"Plural-Forms: [^"]*\\n"', '"Plural-Forms: nplurals=1; plural=0;\\\\n"', text)
    po_path.write_text(fixed, encoding="utf-8")


def compile_all(root: Path) -> None:
    _pybabel("compile", "-d", str(root / "locales"), "-D", DOMAIN, "--use-fuzzy")


def _extract_current(root: Path) -> set[str]:
    """The message ids the code uses now (extracted afresh, not the committed template)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_pot = Path(tmp) / "fresh.pot"
        _pybabel("extract", "-F", str(root / "babel.cfg"), "-k", "N_", "-k", "t", "-k", "plural:1,2",
                 "--no-location", "--omit-header", "-o", str(fresh_pot), str(root / "handlers"),
                 str(root / "bot"), quiet=True)  # fmt: skip
        with fresh_pot.open("rb") as handle:
            return {_message_id(m) for m in read_po(handle) if m.id}


def _message_id(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, tuple | list) else message.id)


def _placeholders(text: str) -> set[str]:
    """The {names} a message fills in (``{{`` is a literal brace, not one)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def _placeholder_problems(message: Message, strings: Sequence[str | None]) -> list[str]:
    """A translation must fill in the same {placeholders} as its message id: a missing one loses information
    (the reference, the time), an unknown one makes the message fail when shown."""
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    expected = set().union(*(_placeholders(str(i)) for i in ids))
    problems = []
    for translated in strings:
        found = _placeholders(str(translated))
        if found != expected and not (len(ids) > 1 and found <= expected and expected - found <= {"n"}):
            problems.append(f"id catalog: {_message_id(message)!r} is translated with placeholders "
                            f"{sorted(found)}, its message id has {sorted(expected)}")  # fmt: skip
    return problems


def check(root: Path) -> list[str]:
    """Problems that would make people read English or stale text: empty, fuzzy, missing or obsolete entries.

    Obsolete means either kept as ``#~`` in a catalog, or a live entry whose message id the code no longer uses
    (a string changed in the code, and the catalog not updated): both are translations nobody will ever see.
    """
    problems: list[str] = []
    with (root / "locales" / f"{DOMAIN}.pot").open("rb") as handle:
        committed = {_message_id(m) for m in read_po(handle) if m.id}
    current = _extract_current(root)
    if current != committed:
        problems.append("locales/audiensi.pot is out of date with the code: run `audiensi i18n update`")
    catalogs: dict[str, Catalog] = {}
    for language in LANGUAGES:
        po_path = root / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po_path.exists():
            with po_path.open("rb") as handle:
                catalogs[language] = read_po(handle)
    catalog = catalogs.get("id")
    if catalog is None:
        return [*problems, "id catalog: locales/id/LC_MESSAGES/audiensi.po is missing"]
    if catalog.plural_forms != "nplurals=1; plural=0;":
        problems.append(f"id catalog: Plural-Forms must be 'nplurals=1; plural=0;' (is {catalog.plural_forms!r})")
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if message.fuzzy:
            problems.append(f"id catalog: fuzzy translation for {_message_id(message)!r}")
        elif not all(strings):
            problems.append(f"id catalog: untranslated {_message_id(message)!r}")
        else:
            problems.extend(_placeholder_problems(message, strings))
    ids = {_message_id(m) for m in catalog if m.id}
    for missing in sorted(current - ids):
        problems.append(f"id catalog: missing {missing!r}")
    for language, each in catalogs.items():
        for obsolete in sorted(_message_id(m) for m in each.obsolete.values()):
            problems.append(f"{language} catalog: obsolete entry (#~) {obsolete!r}: run `audiensi i18n update`")
        live = {_message_id(m) for m in each if m.id}
        for stale in sorted(live - current):
            problems.append(f"{language} catalog: {stale!r} is no longer used by the code: run `audiensi i18n update`")
    return problems
