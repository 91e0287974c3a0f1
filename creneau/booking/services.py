"""Booking writes: hold, confirm, book, cancel, reschedule, mark. Each takes the acting principal.

Double booking is impossible by construction: the database refuses any overlapping active row
(migrations/0002). The services validate everything else (opening hours, absences, notice, audience,
deadlines, rights) and translate the database's refusal into a `Conflict`.

This module is the booking app's public write API; each use case lives in its own module:
`holds` (hold, extend, release, confirm), `book` (book at once), `changes` (cancel, reschedule, mark),
`staff` (forced bookings, absences over booked patients), on top of `rows` (how a row enters the
table: slot resolution, idempotency, locks, the insert) and `policies` (audience, age, answers, spacing,
caps, deadlines)."""

from __future__ import annotations

from .book import appointment_book
from .changes import appointment_cancel, appointment_mark, appointment_reschedule
from .holds import hold_confirm, hold_extend, hold_release, slot_check, slot_hold
from .policies import SpacingRefused, audience_refusal
from .rows import SlotRef
from .staff import FORCE_REASON_MAX, absence_create_over_appointments, appointment_force

__all__ = [
    "FORCE_REASON_MAX",
    "SlotRef",
    "SpacingRefused",
    "absence_create_over_appointments",
    "appointment_book",
    "appointment_cancel",
    "appointment_force",
    "appointment_mark",
    "appointment_reschedule",
    "audience_refusal",
    "hold_confirm",
    "hold_extend",
    "hold_release",
    "slot_check",
    "slot_hold",
]
