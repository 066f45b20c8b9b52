"""Who talks to the bot: representatives and staff. Their welcome, menu, help and command words."""

from __future__ import annotations

from handlers.conversation.engine import Persona
from handlers.i18n import Translator
from handlers.messages import Option


def representative_persona(city: str) -> Persona:
    def welcome(t: Translator) -> str:
        return t(
            "Welcome to the audience service of {city}, Bapak/Ibu.\n\n"
            "Here you can request an audience (audiensi) with an official of the city government and follow "
            "its progress.\n\n"
            "Privacy: we store the name, position and phone number you give, your organization's details and "
            "your request, only to process and schedule the audience. They are seen only by the staff who "
            "handle audiences and are not shared with anyone else.",
            city=city,
        )

    def help_text(t: Translator) -> str:
        return t(
            "What you can do:\n"
            "/ajukan — request an audience\n"
            "/status — see your requests and their status; cancel a request or ask to move an audience there\n"
            "/kembali — go back one step while filling in a form\n"
            "/batal — abandon the form in progress\n"
            "/bantuan — this help\n\n"
            "You can answer a question by choosing one of the options shown, or by typing your answer."
        )

    def menu(t: Translator) -> list[Option]:
        return [
            Option("g:request", t("Request an audience")),
            Option("g:status", t("Request status")),
            Option("g:help", t("Help")),
        ]

    return Persona(
        name="representative",
        welcome=welcome,
        help=help_text,
        menu=menu,
        commands={
            "ajukan": "flow:request_audience",
            "request": "flow:request_audience",
            "status": "status",
            "jawab": "answers",
        },
    )


def staff_persona(city: str) -> Persona:
    def welcome(t: Translator) -> str:
        return t("Welcome to the audience desk of {city}. Requests awaiting a decision are in the queue.", city=city)

    def help_text(t: Translator) -> str:
        return t(
            "What you can do:\n"
            "/antrean — requests awaiting a decision, oldest first (/antrian works too); typing a reference "
            "such as AUD-2026-000001 opens that request\n"
            "Open a request to approve it, reject it with a reason, ask the representative for information, "
            "propose other times or hand it over to another official (disposisi); an approved audience can be "
            "marked held, not attended or postponed.\n"
            "/libur — days off: the officials' blocked days (add or remove)\n"
            "/batal — abandon the decision in progress\n"
            "/bantuan — this help"
        )

    def menu(t: Translator) -> list[Option]:
        return [
            Option("g:queue", t("Queue of requests")),
            Option("g:daysoff", t("Days off")),
            Option("g:help", t("Help")),
        ]

    return Persona(
        name="staff",
        welcome=welcome,
        help=help_text,
        menu=menu,
        commands={"antrean": "queue", "antrian": "queue", "queue": "queue", "libur": "daysoff"},
        typed_reference="openref",
    )
