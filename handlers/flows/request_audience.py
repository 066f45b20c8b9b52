"""Flow: a representative requests an audience. Diagram: request_audience.mmd beside this file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from handlers import validators
from handlers.availability import RefusalReason, SlotRefused
from handlers.conversation.flow import Flow, Section, Step, StepContext
from handlers.domain.model import FileRef, OrganizationType
from handlers.flows.time_picker import TimePicker
from handlers.i18n import N_
from handlers.messages import ContactIn, FileIn, Inbound, InputHint, Option, PressIn, TextIn
from handlers.scheduling import refusal_text
from handlers.validators import Invalid

ORGANIZATION_TYPE_LABELS: dict[OrganizationType, str] = {
    OrganizationType.ORMAS: N_("Ormas (community organization)"),
    OrganizationType.LSM: N_("LSM (non-governmental organization)"),
    OrganizationType.YAYASAN: N_("Yayasan (foundation)"),
    OrganizationType.KARANG_TARUNA: N_("Karang Taruna"),
    OrganizationType.PILAR_SOSIAL: N_("Pilar Sosial (TKSK/PSM/Tagana/PKH)"),
    OrganizationType.DPRD: N_("DPRD / legislature"),
    OrganizationType.INSTANSI: N_("Government agency"),
    OrganizationType.LAINNYA: N_("Other"),
}

ACCEPTED_LETTER_TYPES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


def _text(inbound: Inbound) -> str:
    if isinstance(inbound, TextIn):
        return inbound.text
    raise Invalid(N_("Please type your answer as text."))


def _choice(inbound: Inbound, ctx: StepContext, options: Sequence[Option]) -> str:
    if isinstance(inbound, PressIn) and any(o.key == inbound.key for o in options):
        return inbound.key
    if not options:
        raise Invalid(N_("Please choose one of the options by pressing a button or typing its number."))
    raise Invalid(
        N_("Please choose one of the options by pressing a button or typing its number. Example: 1 for “{first}”."),
        {"first": options[0].label},
    )


# ---- organization --------------------------------------------------------------------------------------


# Examples in error messages are message ids: each person reads them in their language.
ORG_NAME_EXAMPLE = N_("Karang Taruna of Sukamaju village")
POSITION_EXAMPLE = N_("Chair")
SUBJECT_EXAMPLE = N_("Courtesy visit and report on the installation of the 2026–2031 board")
DESCRIPTION_EXAMPLE = N_("We would like to report our new board and explore cooperation on youth programmes.")


def parse_org_name(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.free_text(_text(inbound), min_length=3, max_length=150, example=ORG_NAME_EXAMPLE)


def org_type_options(ctx: StepContext) -> list[Option]:
    return [Option(kind.value, ctx.t(label)) for kind, label in ORGANIZATION_TYPE_LABELS.items()]


def parse_org_type(inbound: Inbound, ctx: StepContext) -> str:
    return _choice(inbound, ctx, org_type_options(ctx))


def show_org_type(value: str, ctx: StepContext) -> str:
    return ctx.t(ORGANIZATION_TYPE_LABELS[OrganizationType(value)])


def parse_registration(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.registration_number(_text(inbound))


# ---- representative ------------------------------------------------------------------------------------


def parse_rep_name(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.person_name(_text(inbound))


def parse_position(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.free_text(_text(inbound), min_length=3, max_length=80, example=POSITION_EXAMPLE)


def show_rep_phone(value: str, _ctx: StepContext) -> str:
    return validators.show_phone(value)  # stored as E.164, read as people write it


def parse_phone(inbound: Inbound, _ctx: StepContext) -> str:
    if isinstance(inbound, ContactIn):
        if not inbound.own:
            raise Invalid(
                N_(
                    "That contact is not your own number. Please press the button “Share my phone number” "
                    "below, or type your number. Example: {example}"
                ),
                {"example": "0812-3456-7890"},
            )
        return validators.phone_number(inbound.phone)
    return validators.phone_number(_text(inbound))


# ---- official, subject, attendees ---------------------------------------------------------------------


def official_not_preselected(ctx: StepContext) -> bool:
    """A link that names the official (e.g. Telegram's /start walikota) answers this step already."""
    return "official" not in ctx.data


def preselected(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"official": data["official"]} if "official" in data else {}


def official_options(ctx: StepContext) -> list[Option]:
    return [Option(o.key, o.title, o.name) for o in ctx.env.officials if o.active]


def parse_official(inbound: Inbound, ctx: StepContext) -> str:
    return _choice(inbound, ctx, official_options(ctx))


def show_official(value: str, ctx: StepContext) -> str:
    official = next((o for o in ctx.env.officials if o.key == value), None)
    return official.display if official else value


# The prompts below say the same minimums ("three words", "four words"): keep them in step.
SUBJECT_MIN_WORDS = 3
DESCRIPTION_MIN_WORDS = 4


def parse_subject(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.free_text(
        _text(inbound), min_length=10, max_length=200, min_words=SUBJECT_MIN_WORDS, example=SUBJECT_EXAMPLE
    )


def parse_description(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.free_text(
        _text(inbound), min_length=20, max_length=1500, min_words=DESCRIPTION_MIN_WORDS, multiline=True,
        example=DESCRIPTION_EXAMPLE,
    )  # fmt: skip


def parse_attendees(inbound: Inbound, ctx: StepContext) -> int:
    return validators.attendee_count(_text(inbound), ctx.env.max_attendees)


def attendees_params(ctx: StepContext) -> dict[str, object]:
    return {"max": ctx.env.max_attendees}


def show_attendees(value: int, ctx: StepContext) -> str:
    return ctx.t.plural("{n} person", "{n} people", value)


# ---- preferred times ----------------------------------------------------------------------------------
# Free dates, then free times of the chosen official; typed dates are echoed and confirmed (time_picker.py).

PREFERRED_TIMES = TimePicker(
    key="preferred_times",
    intro=N_("When would you like to meet? Please choose up to three preferred times, one at a time: first a "
             "date, then a time. You can also type a date and time, e.g. “Senin depan jam 10” or “7 Desember "
             "pukul 14.00”."),
)  # fmt: skip


def still_bookable(picker: TimePicker) -> Callable[[Any, StepContext], str | None]:
    """At "Send": a chosen time that has since passed, or come inside the minimum notice (the form waited), is
    no longer asked for; says why (None: it still holds). Other refusals (taken meanwhile) are for staff."""

    def recheck(value: Any, ctx: StepContext) -> str | None:
        at = datetime.fromisoformat(str(value))
        calendar = picker.calendar(ctx)
        if calendar is None:
            return None if at > ctx.now else ctx.t("{when} has already passed.", when=ctx.t.datetime(at))
        result = calendar.check(at)
        if isinstance(result, SlotRefused) and result.reason in (RefusalReason.PAST, RefusalReason.TOO_SOON):
            return refusal_text(result, at, calendar, ctx.t)
        return None

    return recheck


def show_time(value: str, ctx: StepContext) -> str:
    return TimePicker.show(value, ctx)


def acknowledge_time(value: str, ctx: StepContext) -> str:
    return TimePicker.acknowledge(value, ctx)


# ---- request letter -----------------------------------------------------------------------------------


def parse_letter_number(inbound: Inbound, _ctx: StepContext) -> str:
    return validators.letter_number(_text(inbound))


def letter_file_applies(ctx: StepContext) -> bool:
    return ctx.env.supports_files


def parse_letter_file(inbound: Inbound, ctx: StepContext) -> dict[str, Any]:
    if not isinstance(inbound, FileIn):
        raise Invalid(N_("Please send the letter as a PDF or a photo, or choose Skip."))
    file: FileRef = inbound.file
    if file.mime_type not in ACCEPTED_LETTER_TYPES:
        raise Invalid(N_("Only PDF, JPEG or PNG files are accepted. Please send the letter in one of those forms."))
    limit_mb = ctx.env.max_file_bytes // (1024 * 1024)
    if file.size > ctx.env.max_file_bytes:
        raise Invalid(N_("The file is larger than {max} MB. Please send a smaller file."), {"max": limit_mb})
    return {"channel": file.channel, "file_id": file.file_id, "name": file.name, "mime_type": file.mime_type,
            "size": file.size}  # fmt: skip


def show_letter_file(value: dict[str, Any], ctx: StepContext) -> str:
    kind = ACCEPTED_LETTER_TYPES.get(value["mime_type"], value["mime_type"])
    return ctx.t("{name} ({kind}, {size} KB)", name=value["name"], kind=kind, size=max(1, value["size"] // 1024))


def _show_text(value: Any, _ctx: StepContext) -> str:
    return str(value)


REQUEST_AUDIENCE = Flow(
    name="request_audience",
    title=N_("Audience request"),
    summary_intro=N_("Please check your request. If everything is correct, choose “Send”."),
    submit_label=N_("Send"),
    summary_asks=False,  # "check every answer", not a yes/no question
    initial_answers=preselected,
    sections=(
        Section("organization", N_("Organization")),
        Section("representative", N_("Representative")),
        Section("official", N_("Official")),
        Section("subject", N_("Subject and description")),
        Section("attendees", N_("Number of attendees")),
        Section("times", N_("Preferred times")),
        Section("letter", N_("Request letter")),
    ),
    steps=(
        Step("org_name", "organization",
             N_("What is the name of your organization?\nExample: Karang Taruna of Sukamaju village"),
             parse_org_name, label=N_("Name")),
        Step("org_type", "organization", N_("What type of organization is it?"), parse_org_type,
             label=N_("Type"), options=org_type_options, show=show_org_type),
        Step("org_registration", "organization",
             N_("What is the organization's registration number with Kesbangpol or AHU (Kementerian Hukum)?\n"
                "Example: AHU-0012345.AH.01.07.2024. Type “lewati” if it has none."),
             parse_registration, label=N_("Registration number"), skippable=True),
        Step("rep_name", "representative", N_("What is your full name, Bapak/Ibu?\nExample: Andi Rahmat Hidayat"),
             parse_rep_name, label=N_("Full name")),
        Step("rep_position", "representative",
             N_("What is your position in the organization?\nExample: Chair, Secretary, Treasurer"),
             parse_position, label=N_("Position")),
        Step("rep_phone", "representative",
             N_("What phone number can staff reach you on?\nExample: 0812-3456-7890"),
             parse_phone, label=N_("Phone"), hint=InputHint.PHONE, show=show_rep_phone),
        Step("official", "official", N_("Which official would you like to meet?"), parse_official,
             label=N_("Official"), options=official_options, show=show_official,
             applies=official_not_preselected, invalidates=("preferred_times",)),
        Step("subject", "subject",
             N_("What is the subject (perihal) of the audience? Please write at least one sentence of three words "
                "or more.\nExample: Courtesy visit and report on the installation of the 2026–2031 board"),
             parse_subject, label=N_("Subject")),
        Step("description", "subject",
             N_("Please describe briefly, in at least four words, what your organization would like to discuss.\n"
                "Example: We would like to report our new board and explore cooperation on youth programmes."),
             parse_description, label=N_("Description")),
        Step("attendees", "attendees",
             N_("How many people will attend, including you? (1 to {max})"), parse_attendees,
             label=N_("Attendees"), prompt_params=attendees_params, show=show_attendees),
        Step("preferred_times", "times", PREFERRED_TIMES.intro, PREFERRED_TIMES.parse,
             typed_numbers=PREFERRED_TIMES.numbers_are_times,
             label=N_("Preferred times"), options=PREFERRED_TIMES.options, ask=PREFERRED_TIMES.ask, collect=3,
             show=show_time, acknowledge=acknowledge_time, recheck=still_bookable(PREFERRED_TIMES)),
        Step("letter_number", "letter",
             N_("What is the number of your request letter (surat permohonan)?\n"
                "Example: 005/12/KT/VII/2026. Type “lewati” if there is none."),
             parse_letter_number, label=N_("Letter number"), skippable=True),
        Step("letter_file", "letter",
             N_("Please send the request letter as a PDF or a photo (at most 10 MB), or choose Skip."),
             parse_letter_file, label=N_("Letter file"), skippable=True, applies=letter_file_applies,
             show=show_letter_file, hint=InputHint.FILE),
    ),
)  # fmt: skip
