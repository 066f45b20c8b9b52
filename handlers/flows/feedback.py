"""Flow: after rating an audience, the representative may add a comment. Diagram: feedback.mmd."""

from __future__ import annotations

from handlers import validators
from handlers.conversation.flow import Flow, Step, StepContext
from handlers.i18n import N_
from handlers.messages import Inbound, TextIn
from handlers.validators import Invalid


def parse_comment(inbound: Inbound, _ctx: StepContext) -> str:
    if not isinstance(inbound, TextIn):
        raise Invalid(N_("Please type your answer as text."))
    example = N_("Thank you; the meeting went well and the follow-up is clear.")
    return validators.free_text(inbound.text, min_length=3, max_length=1000, multiline=True, example=example)


def reference_param(ctx: StepContext) -> dict[str, object]:
    return {"reference": ctx.data.get("reference", "")}


FEEDBACK_COMMENT = Flow(
    name="feedback_comment",
    title=N_("Comment on the audience"),
    steps=(
        Step(
            "comment",
            "comment",
            N_("Would you like to add a comment about the audience {reference}? Type it, or choose Skip."),
            parse_comment,
            label=N_("Comment"),
            skippable=True,
            prompt_params=reference_param,
        ),
    ),
)
