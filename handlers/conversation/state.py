"""Conversation state: plain JSON-able data, stored per (channel, external user id)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from handlers.messages import Option


@dataclass(frozen=True)
class Frame:
    """One flow in progress. Frames stack: answering staff's question pauses a form and resumes it after."""

    flow: str
    step: str
    answers: dict[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    # Set while changing one section from the summary: when that section is answered, go back to the summary.
    editing: str | None = None
    # Context captured when the flow started (e.g. the request a staff member opened).
    data: dict[str, Any] = field(default_factory=dict)
    # A step's unfinished answer (a date chosen but no time yet, a time waiting for "benar?").
    draft: dict[str, Any] | None = None
    # The answers as they were when changing one began, so /kembali there restores them untouched.
    backup: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "step": self.step,
            "answers": self.answers,
            "history": list(self.history),
            "editing": self.editing,
            "data": self.data,
            "draft": self.draft,
            "backup": self.backup,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        return cls(
            flow=data["flow"],
            step=data["step"],
            answers=dict(data.get("answers", {})),
            history=tuple(data.get("history", ())),
            editing=data.get("editing"),
            data=dict(data.get("data", {})),
            draft=data.get("draft"),
            backup=data.get("backup"),
        )


@dataclass(frozen=True)
class ConversationState:
    frames: tuple[Frame, ...] = ()
    # The options last shown, so a typed "2" or "Setujui" means the same as pressing that button, and a stale
    # button from an old message can be recognised and answered politely.
    offered: tuple[Option, ...] = ()
    # A yes/no question that stands in front of the flow (e.g. "abandon this form?").
    confirming: str | None = None
    language: str | None = None
    # Counts the questions asked; buttons carry it (see handlers/conversation/stamps.py) so that a button is
    # only ever taken as the answer to the question it was offered with.
    serial: int = 0

    @property
    def frame(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    def with_frame(self, frame: Frame) -> ConversationState:
        return replace(self, frames=(*self.frames[:-1], frame))

    def push(self, frame: Frame) -> ConversationState:
        return replace(self, frames=(*self.frames, frame))

    def pop(self) -> ConversationState:
        return replace(self, frames=self.frames[:-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": [f.to_dict() for f in self.frames],
            "offered": [{"key": o.key, "label": o.label, "description": o.description} for o in self.offered],
            "confirming": self.confirming,
            "language": self.language,
            "serial": self.serial,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationState:
        return cls(
            frames=tuple(Frame.from_dict(f) for f in data.get("frames", ())),
            offered=tuple(Option(o["key"], o["label"], o.get("description")) for o in data.get("offered", ())),
            confirming=data.get("confirming"),
            language=data.get("language"),
            serial=int(data.get("serial", 0)),
        )
