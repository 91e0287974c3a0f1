"""Appointments, holds included.

A hold is an appointment row in status `held` with an expiry: holds and bookings share one table so
that one database constraint forbids any overlap between them (exclusion constraint on PostgreSQL,
triggers on SQLite; see migrations/0002)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.crypto.fields import EncryptedCharField
from creneau.core.models import PublicModel

from .querysets import AppointmentQuerySet


class Status(models.TextChoices):
    HELD = "held", _("Held")
    BOOKED = "booked", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")
    FULFILLED = "fulfilled", _("Fulfilled")
    NO_SHOW = "no_show", _("No-show")


class Source(models.TextChoices):
    WEB = "web", _("Online")
    PHONE = "phone", _("By phone (secretary)")
    API = "api", _("Practice software (API)")


class CancelledBy(models.TextChoices):
    PATIENT = "patient", _("Patient")
    PRACTICE = "practice", _("Practice")
    SYSTEM = "system", _("System")


class Appointment(PublicModel):
    practitioner = models.ForeignKey("directory.Practitioner", on_delete=models.PROTECT, related_name="appointments")
    site = models.ForeignKey("directory.Site", on_delete=models.PROTECT, related_name="appointments")
    # Copied from site.organization: the tenant that owns the record, used by every scoped query.
    organization = models.ForeignKey("directory.Organization", on_delete=models.PROTECT, related_name="appointments")
    motif = models.ForeignKey("scheduling.Motif", on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    # end_at plus the motif's buffer: the range the practitioner is unavailable, used by the constraint.
    busy_until = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEB)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    # Non-personal key of the principal holding or having booked (Actor.key).
    actor_key = models.CharField(max_length=80, db_index=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # sha256(actor key, client key): a retried request finds its first result instead of booking again.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    booked_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=16, choices=CancelledBy.choices, blank=True)
    # Booked by staff on top of another appointment or outside opening hours, on purpose
    # (`appointment_force`, with its reason in the audit trail). Forced rows are left out of the
    # no-overlap constraint, and only those: every other row is still checked against every other.
    is_forced = models.BooleanField(default=False)
    forced_reason = models.CharField(max_length=200, blank=True)
    # The answers to the visit reason's questions (JSON: [{"q": question as asked, "a": answer}]): they
    # may carry health information, so they are encrypted like the patient's identity.
    answers = EncryptedCharField(max_length=8000, null=True, blank=True, default=None)
    # A no-show the practice excused (the patient had a good reason): shown apart in the patient file.
    no_show_excused = models.BooleanField(default=False)
    rescheduled_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rescheduled_to"
    )

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["practitioner", "start_at"]),
            models.Index(fields=["organization", "start_at"]),
            models.Index(fields=["patient", "start_at"]),
            models.Index(fields=["status", "hold_expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_at__gt=models.F("start_at")), name="appointment_positive"),
            models.CheckConstraint(
                condition=models.Q(busy_until__gte=models.F("end_at")), name="appointment_busy_covers"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="held") | models.Q(hold_expires_at__isnull=False),
                name="appointment_hold_expires",
            ),
            models.CheckConstraint(
                condition=models.Q(status="held") | models.Q(status="cancelled") | models.Q(patient__isnull=False),
                name="appointment_has_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(is_forced=False) | (~models.Q(status="held") & ~models.Q(forced_reason="")),
                name="appointment_forced_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk}"

    def answer_list(self) -> list[dict[str, str]]:
        """The questions asked before booking and the patient's answers, in order."""
        import json

        raw = self.answers or ""
        if not raw:
            return []
        try:
            rows = json.loads(str(raw))
        except ValueError:
            return []
        return [{"q": str(r.get("q", "")), "a": str(r.get("a", ""))} for r in rows if isinstance(r, dict)]


ACTIVE_STATUSES = (Status.HELD, Status.BOOKED, Status.FULFILLED, Status.NO_SHOW)


class AppointmentIdentifier(PublicModel):
    """An identifier a partner system gave an appointment it booked (the SAS's technical id), so that it
    can update it later by that identifier (`PUT Appointment?identifier=system|value`). Unique per
    organization and system; when the appointment is moved, its identifiers follow the new row."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="identifiers")
    organization = models.ForeignKey("directory.Organization", on_delete=models.PROTECT, related_name="+")
    system = models.CharField(max_length=255)
    value = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "system", "value"], name="appointment_identifier_unique")
        ]

    def __str__(self) -> str:
        return f"appointment identifier {self.pk}"
