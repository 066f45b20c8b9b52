"""Who among the staff addresses hears about a request: only those who may view its official's requests."""

from __future__ import annotations

from handlers.domain.model import Address, Permission, StaffMember
from handlers.ports import Directory


def staff_recipients(directory: Directory, official_key: str) -> list[tuple[Address, StaffMember | None]]:
    """The staff addresses that get notices about an official's request, each with its staff member.

    An address of one staff member (their console, their WhatsApp) gets a request's notices only when that
    member may view the official's requests (an ajudan: the officials they serve). An address that is no one
    person's — the shared Telegram staff group — gets them all, as `None`: the group sees every card.
    """
    found: list[tuple[Address, StaffMember | None]] = []
    for address in directory.staff_addresses():
        member = directory.staff_for(address)
        if member is None or member.may(Permission.VIEW, official_key):
            found.append((address, member))
    return found
