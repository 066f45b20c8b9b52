"""Planning reminders: which messages, at which office time, across WIB/WITA/WIT; quiet hours; digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from handlers.availability import HolidayCalendar
from handlers.domain.model import Address, AudienceRequest, Organization, OrganizationType, Representative
from handlers.domain.model import RequestStatus as S
from handlers.reminders import (
    DECISION,
    DIGEST_TODAY,
    DIGEST_TOMORROW,
    FEEDBACK,
    MARK_OUTCOME,
    REMINDER_2H,
    REMINDER_DAY_BEFORE,
    Defer,
    Planned,
    ReminderPolicy,
    Send,
    Skip,
    audiences_on,
    day_before_moved,
    digest_slots,
    gate,
    no_longer_fits,
    overdue_undecided,
    plan,
    retried_while_useful,
    retry_delay,
    to_expire,
    waiting_since,
)

WIB, WITA, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")


def request(tz: ZoneInfo, when: datetime | None, status: S = S.APPROVED, **changes: object) -> AudienceRequest:
    made = AudienceRequest(
        reference="AUD-2026-000001", status=status, organization=Organization("Karang Taruna", OrganizationType.LSM),
        representative=Representative("Andi", "+6281234567890", 1), position="Ketua", official_key="walikota",
        subject="Silaturahmi", description="-", attendees=5,
        preferred_times=(datetime(2026, 12, 7, 10, 0, tzinfo=tz),), contact=Address("console", "warga"),
        created_at=datetime(2026, 11, 23, 9, 0, tzinfo=tz), scheduled_at=when, place="Ruang Rapat", id=1,
    )  # fmt: skip
    return replace(made, **changes)  # type: ignore[arg-type]


def local_plan(tz: ZoneInfo, when: datetime, now: datetime) -> dict[str, str]:
    policy = ReminderPolicy(tz=tz)
    return {p.kind: p.due_at.astimezone(tz).strftime("%a %d %H:%M") for p in plan(request(tz, when), policy, now)}


@pytest.mark.parametrize("tz", [WIB, WITA, WIT], ids=["WIB", "WITA", "WIT"])
def test_each_kind_is_due_at_the_right_office_time_in_every_zone(tz: ZoneInfo) -> None:
    # Monday 7 December 2026, 10.00 office time; approved on Monday 23 November.
    planned = local_plan(tz, datetime(2026, 12, 7, 10, 0, tzinfo=tz), datetime(2026, 11, 23, 9, 0, tzinfo=tz))
    assert planned == {
        REMINDER_DAY_BEFORE: "Fri 04 09:00",  # the working day before a Monday is the Friday
        REMINDER_2H: "Mon 07 08:00",
        FEEDBACK: "Mon 07 12:00",
        MARK_OUTCOME: "Mon 07 12:00",
    }


def test_the_working_day_before_skips_holidays() -> None:
    holidays = HolidayCalendar.from_mapping({date(2026, 12, 24): "Cuti Bersama Natal", date(2026, 12, 25): "Natal"})
    policy = ReminderPolicy(tz=WITA, holidays=holidays)
    when = datetime(2026, 12, 28, 10, 0, tzinfo=WITA)  # Monday after Christmas
    due = {p.kind: p.due_at for p in plan(request(WITA, when), policy, datetime(2026, 12, 1, tzinfo=UTC))}
    assert due[REMINDER_DAY_BEFORE] == datetime(2026, 12, 23, 9, 0, tzinfo=WITA)


def test_an_early_audience_has_its_second_reminder_moved_out_of_quiet_hours() -> None:
    planned = local_plan(WITA, datetime(2026, 12, 7, 7, 30, tzinfo=WITA), datetime(2026, 11, 23, 9, 0, tzinfo=WITA))
    assert planned[REMINDER_2H] == "Mon 07 06:00"  # 05.30 falls in quiet hours: it waits until 06.00
    late = local_plan(WITA, datetime(2026, 12, 7, 6, 0, tzinfo=WITA), datetime(2026, 11, 23, 9, 0, tzinfo=WITA))
    assert REMINDER_2H not in late  # at 06.00 it would be pointless


def test_approved_late_plans_only_what_is_still_ahead() -> None:
    when = datetime(2026, 12, 7, 10, 0, tzinfo=WITA)
    planned = local_plan(WITA, when, datetime(2026, 12, 7, 7, 0, tzinfo=WITA))
    assert set(planned) == {REMINDER_2H, FEEDBACK, MARK_OUTCOME}
    # Approved less than two hours before: no two-hour reminder (the approval notice gives the time and place).
    assert set(local_plan(WITA, when, datetime(2026, 12, 7, 8, 30, tzinfo=WITA))) == {FEEDBACK, MARK_OUTCOME}
    assert plan(request(WITA, when, S.REJECTED), ReminderPolicy(tz=WITA), datetime(2026, 11, 1, tzinfo=UTC)) == []


def test_quiet_hours_hold_messages_to_representatives_until_six_or_skip_them_when_pointless() -> None:
    policy = ReminderPolicy(tz=WIT)
    night = datetime(2026, 12, 6, 22, 30, tzinfo=WIT)
    assert gate(REMINDER_DAY_BEFORE, datetime(2026, 12, 7, 10, 0, tzinfo=WIT), night, policy) == Defer(
        datetime(2026, 12, 7, 6, 0, tzinfo=WIT)
    )
    assert isinstance(gate(REMINDER_2H, datetime(2026, 12, 7, 5, 0, tzinfo=WIT), night, policy), Skip)
    assert isinstance(gate(REMINDER_2H, night.replace(hour=20), night, policy), Skip)  # already past
    assert gate(MARK_OUTCOME, None, night, policy) == Send()  # staff: no quiet hours
    assert gate(FEEDBACK, None, datetime(2026, 12, 7, 6, 0, tzinfo=WIT), policy) == Send()


def test_digest_slots_and_the_day_they_list() -> None:
    policy = ReminderPolicy(tz=WIB)
    assert digest_slots(datetime(2026, 12, 7, 6, 59, tzinfo=WIB), policy) == []
    [today] = digest_slots(datetime(2026, 12, 7, 7, 0, tzinfo=WIB), policy)
    assert (today.kind, today.day) == (DIGEST_TODAY, date(2026, 12, 7))
    [tomorrow] = digest_slots(datetime(2026, 12, 7, 16, 5, tzinfo=WIB), policy)
    assert (tomorrow.kind, tomorrow.days) == (DIGEST_TOMORROW, (date(2026, 12, 8),))
    early = request(WIB, datetime(2026, 12, 7, 9, 0, tzinfo=WIB), reference="AUD-2026-000002", id=2)
    late = request(WIB, datetime(2026, 12, 7, 14, 0, tzinfo=WIB))
    other_day = request(WIB, datetime(2026, 12, 8, 9, 0, tzinfo=WIB), id=3)
    listed = audiences_on([late, other_day, early], {date(2026, 12, 7)}, policy)
    assert [r.id for r in listed] == [2, 1]
    assert audiences_on([late], {date(2026, 12, 7)}, policy, officials=("sekda",)) == []


def test_the_afternoon_agenda_is_made_on_working_days_and_reaches_the_next_working_day() -> None:
    policy = ReminderPolicy(tz=WIB)
    [friday] = digest_slots(datetime(2026, 12, 4, 16, 0, tzinfo=WIB), policy)  # Friday: up to Monday
    assert (friday.kind, friday.days) == (DIGEST_TOMORROW, (date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)))
    assert friday.made_on == date(2026, 12, 4)
    assert digest_slots(datetime(2026, 12, 5, 16, 0, tzinfo=WIB), policy) == []  # Saturday: none
    assert digest_slots(datetime(2026, 12, 6, 16, 0, tzinfo=WIB), policy) == []  # Sunday: Friday's covered Monday
    # Thursday 24 December: Christmas Eve is cuti bersama, Friday the 25th Christmas: up to Monday the 28th.
    [before_christmas] = digest_slots(datetime(2026, 12, 23, 16, 0, tzinfo=WIB), policy)
    assert before_christmas.days[-1] == date(2026, 12, 28)


def test_a_digest_delivered_after_its_day_is_skipped() -> None:
    policy = ReminderPolicy(tz=WIB)
    made_on = date(2026, 12, 7)
    assert gate(DIGEST_TODAY, None, datetime(2026, 12, 7, 20, 0, tzinfo=WIB), policy, made_on=made_on) == Send()
    late = gate(DIGEST_TOMORROW, None, datetime(2026, 12, 8, 7, 30, tzinfo=WIB), policy, made_on=made_on)
    assert isinstance(late, Skip) and "agenda" in late.reason


def test_failed_reminders_are_retried_while_useful_with_a_capped_backoff() -> None:
    audience = {"audience_at": datetime(2026, 12, 7, 10, 0, tzinfo=WIB).isoformat()}
    assert retried_while_useful(REMINDER_2H, audience) and retried_while_useful(REMINDER_DAY_BEFORE, audience)
    assert retried_while_useful(DIGEST_TODAY, {"made_on": "2026-12-07"})
    assert not retried_while_useful(DECISION, {}) and not retried_while_useful(REMINDER_2H, {})
    assert [retry_delay(n) for n in (1, 2, 8, 9, 40)] == [2, 4, 256, 300, 300]


def test_a_planned_message_that_no_longer_fits_the_request_is_named() -> None:
    when = datetime(2026, 12, 7, 10, 0, tzinfo=WIB)
    assert no_longer_fits(REMINDER_2H, S.APPROVED, when, when) is None
    assert no_longer_fits(REMINDER_2H, S.RESCHEDULE_REQUESTED, when, when) is None
    assert no_longer_fits(REMINDER_2H, S.CANCELLED, when, when) == "request cancelled"
    assert no_longer_fits(REMINDER_DAY_BEFORE, S.APPROVED, when.replace(day=9), when) == "the audience was moved"
    assert no_longer_fits(FEEDBACK, S.COMPLETED, when, when) is None
    assert no_longer_fits(FEEDBACK, S.NO_SHOW, when, when) == "request no_show"
    assert no_longer_fits(MARK_OUTCOME, S.COMPLETED, when, when) == "request completed"


def test_nudges_count_working_days_and_expiry_waits_for_the_last_preferred_time() -> None:
    policy = ReminderPolicy(tz=WITA, quiet_start=time(0), quiet_end=time(0))
    waiting = request(WITA, None, S.SUBMITTED)  # submitted Monday 23 November
    assert overdue_undecided([waiting], datetime(2026, 11, 24, 12, 0, tzinfo=WITA), policy) == []
    assert overdue_undecided([waiting], datetime(2026, 11, 25, 8, 0, tzinfo=WITA), policy) == [waiting]
    assert to_expire([waiting], datetime(2026, 12, 7, 9, 59, tzinfo=WITA)) == []
    assert to_expire([waiting], datetime(2026, 12, 7, 10, 0, tzinfo=WITA)) == [waiting]


def test_a_held_audience_keeps_only_the_feedback_request_at_its_time_or_now_outside_quiet_hours() -> None:
    policy = ReminderPolicy(tz=WITA)
    when = datetime(2026, 12, 7, 10, 0, tzinfo=WITA)
    held = request(WITA, when, S.COMPLETED)
    assert plan(held, policy, datetime(2026, 12, 7, 11, 0, tzinfo=WITA)) == [
        Planned(FEEDBACK, datetime(2026, 12, 7, 12, 0, tzinfo=WITA))
    ]
    late = datetime(2026, 12, 7, 15, 0, tzinfo=WITA)  # marked after the feedback time: now
    assert plan(held, policy, late) == [Planned(FEEDBACK, late)]
    night = datetime(2026, 12, 7, 22, 0, tzinfo=WITA)  # marked at night: at 06.00
    assert plan(held, policy, night) == [Planned(FEEDBACK, datetime(2026, 12, 8, 6, 0, tzinfo=WITA))]
    assert plan(request(WITA, when, S.NO_SHOW), policy, datetime(2026, 12, 7, 11, 0, tzinfo=WITA)) == []


def test_an_audience_with_a_move_requested_keeps_its_plan_and_its_agenda_line() -> None:
    policy = ReminderPolicy(tz=WITA)
    when = datetime(2026, 12, 7, 10, 0, tzinfo=WITA)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=WITA)
    moving = request(WITA, when, S.RESCHEDULE_REQUESTED)
    assert plan(moving, policy, now) == plan(request(WITA, when), policy, now)
    assert audiences_on([moving], {date(2026, 12, 7)}, policy) == [moving]


def test_city_days_off_are_not_working_days() -> None:
    policy = ReminderPolicy(tz=WITA, holidays=HolidayCalendar.from_mapping({})).with_days_off(
        {date(2026, 12, 4): "Hari jadi kota"}
    )
    assert policy.previous_working_day(date(2026, 12, 7)) == date(2026, 12, 3)
    due = {p.kind: p.due_at for p in plan(request(WITA, datetime(2026, 12, 7, 10, 0, tzinfo=WITA)), policy,
                                          datetime(2026, 11, 23, 9, 0, tzinfo=WITA))}  # fmt: skip
    assert due[REMINDER_DAY_BEFORE] == datetime(2026, 12, 3, 9, 0, tzinfo=WITA)
    # Monday 23 November to Thursday 26 with Wednesday off: two working days (Tuesday, Thursday).
    off = ReminderPolicy(tz=WITA).with_days_off({date(2026, 11, 25): "Hari jadi kota"})
    assert off.working_days_between(datetime(2026, 11, 23, 9, tzinfo=WITA), datetime(2026, 11, 26, 8, tzinfo=WITA)) == 2
    assert ReminderPolicy(tz=WITA).with_days_off({}) == ReminderPolicy(tz=WITA)


def test_a_holiday_staff_opened_is_a_working_day_and_a_day_off_on_it_still_closes_it() -> None:
    policy = ReminderPolicy(tz=WITA)  # Thursday 24 December 2026 is cuti bersama, Friday 25 Christmas
    monday = datetime(2026, 12, 28, 10, 0, tzinfo=WITA)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=WITA)
    day_before = {p.kind: p.due_at for p in plan(request(WITA, monday), policy, now)}[REMINDER_DAY_BEFORE]
    assert day_before == datetime(2026, 12, 23, 9, 0, tzinfo=WITA)
    opened = policy.with_days_off({}, opened={date(2026, 12, 24)})
    assert opened.is_working_day(date(2026, 12, 24)) and not opened.is_working_day(date(2026, 12, 25))
    day_before = {p.kind: p.due_at for p in plan(request(WITA, monday), opened, now)}[REMINDER_DAY_BEFORE]
    assert day_before == datetime(2026, 12, 24, 9, 0, tzinfo=WITA)
    closed_again = policy.with_days_off({date(2026, 12, 24): "Rapat paripurna"}, opened={date(2026, 12, 24)})
    assert not closed_again.is_working_day(date(2026, 12, 24))
    assert not policy.with_days_off({}, opened={date(2026, 12, 26)}).is_working_day(date(2026, 12, 26))  # Saturday


def test_a_move_waiting_for_staff_is_nudged_counting_from_when_it_was_asked() -> None:
    policy = ReminderPolicy(tz=WITA)
    moving = request(WITA, datetime(2026, 12, 7, 10, 0, tzinfo=WITA), S.RESCHEDULE_REQUESTED,
                     updated_at=datetime(2026, 11, 25, 9, 0, tzinfo=WITA))  # fmt: skip
    assert waiting_since(moving) == datetime(2026, 11, 25, 9, 0, tzinfo=WITA)
    assert overdue_undecided([moving], datetime(2026, 11, 26, 8, 0, tzinfo=WITA), policy) == []
    assert overdue_undecided([moving], datetime(2026, 11, 27, 8, 0, tzinfo=WITA), policy) == [moving]


def test_offered_times_keep_a_request_from_expiring() -> None:
    offered = (datetime(2026, 12, 14, 10, 0, tzinfo=WITA),)
    countered = request(WITA, None, S.COUNTER_OFFERED, proposed_times=offered)
    postponed = request(WITA, None, S.POSTPONED, proposed_times=offered)
    for waiting in (countered, postponed):
        assert to_expire([waiting], datetime(2026, 12, 8, 9, 0, tzinfo=WITA)) == []  # preferred times passed
        assert to_expire([waiting], datetime(2026, 12, 14, 10, 0, tzinfo=WITA)) == [waiting]
    assert to_expire([request(WITA, None, S.POSTPONED)], datetime(2027, 1, 1, tzinfo=WITA)) == []  # nothing offered


def test_quiet_hours_hold_staff_decisions_to_representatives_but_not_replies() -> None:
    policy = ReminderPolicy(tz=WIB)
    night = datetime(2026, 11, 23, 22, 0, tzinfo=WIB)
    assert gate(DECISION, None, night, policy) == Defer(datetime(2026, 11, 24, 6, 0, tzinfo=WIB))
    assert gate("reply", None, night, policy) == Send()  # an answer to the representative's own message
    assert gate("decided", None, night, policy) == Send()  # staff notices


def test_a_pending_day_before_reminder_moves_with_the_working_days() -> None:
    when = datetime(2026, 12, 7, 10, 0, tzinfo=WITA)  # Monday
    policy = ReminderPolicy(tz=WITA, holidays=HolidayCalendar.from_mapping({}))
    friday_off = policy.with_days_off({date(2026, 12, 4): "Hari jadi kota"})
    early = datetime(2026, 11, 30, 9, 0, tzinfo=WITA)
    assert day_before_moved(when, friday_off, early) == datetime(2026, 12, 3, 9, 0, tzinfo=WITA)
    late = datetime(2026, 12, 3, 22, 0, tzinfo=WITA)  # Thursday night: at 06.00
    assert day_before_moved(when, friday_off, late) == datetime(2026, 12, 4, 6, 0, tzinfo=WITA)
    assert (
        day_before_moved(when, friday_off, datetime(2026, 12, 7, 8, 30, tzinfo=WITA)) is None
    )  # the 2-hour one suffices


def test_the_morning_agenda_must_come_before_the_afternoon_one() -> None:
    from pydantic import ValidationError

    from bot.settings import Settings

    with pytest.raises(ValidationError, match=r"AUDIENSI_DIGEST_TODAY_AT \(17:00\) must be earlier than"):
        Settings(digest_today_at=time(17, 0), digest_tomorrow_at=time(16, 0))
    assert Settings(digest_today_at=time(6, 30)).digest_tomorrow_at == time(16, 0)
