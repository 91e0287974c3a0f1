"""The outbox (every message we send, one row each) and the waiting list.

A message row is written in the same transaction as the event that causes it, so a booking can never
commit without its confirmation nor a confirmation leave for a booking that rolled back. Workers claim
rows with a conditional UPDATE (see `outbox.py`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.crypto.fields import EncryptedCharField
from creneau.core.models import PublicModel


class Kind(models.TextChoices):
    BOOKING_CONFIRMATION = "booking_confirmation", _("Booking confirmation")
    REMINDER = "reminder", _("Reminder")
    CANCELLATION = "cancellation", _("Cancellation")
    MOVE = "move", _("Appointment moved")
    WAITLIST_OFFER = "waitlist_offer", _("Waiting list offer")
    SECURITY_NEW_LOGIN = "security_new_login", _("New sign-in")
    SECURITY_PASSWORD_CHANGED = "security_password_changed", _("Password changed")
    SECURITY_MFA_CHANGED = "security_mfa_changed", _("Two-step verification changed")
    INCIDENT_NOTICE = "incident_notice", _("Incident notice")
    PHONE_VERIFICATION = "phone_verification", _("Phone number confirmation code")
    TEAM_INVITATION = "team_invitation", _("Invitation to join a practice team")
    TEAM_RIGHTS_CHANGED = "team_rights_changed", _("Agenda rights changed")
    TEAM_ROLE_CHANGED = "team_role_changed", _("Role in a practice changed")
    TEAM_MEMBER_REMOVED = "team_member_removed", _("Removed from a practice team")
    ACCOUNT_VERIFICATION = "account_verification", _("E-mail address confirmation")
    ACCOUNT_EXISTS = "account_exists", _("Sign-up with an address that has an account")
    PASSWORD_RESET = "password_reset", _("Password reset link")
    SECURITY_PASSKEY_CHANGED = "security_passkey_changed", _("Passkey added or removed")
    BOOKING_BLOCKED = "booking_blocked", _("Online booking blocked by a practice")
    BOOKING_UNBLOCKED = "booking_unblocked", _("Online booking allowed again by a practice")
    # To an API client's subscription endpoint (FHIR rest-hook): an appointment booked, moved, cancelled...
    PARTNER_NOTIFICATION = "partner_notification", _("Notification to a partner's software")


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    # An HTTPS POST to a partner's endpoint (`to_address` is the URL, `headers` its signed headers).
    WEBHOOK = "webhook", _("Web hook")


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class OutboundMessage(PublicModel):
    """One message to one address on one channel. Rendered when created: the row is what was sent."""

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=MessageChannel.choices)
    # The account that receives it (None for a patient created by a practice without an account).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Address and bodies hold personal data (names, contact): encrypted at rest like patient identity.
    to_address = EncryptedCharField(max_length=254)
    language = models.CharField(max_length=8, default="fr")
    subject = models.CharField(max_length=200, blank=True)
    body_text = EncryptedCharField(max_length=20000)
    body_html = EncryptedCharField(max_length=40000, blank=True)
    ics = models.TextField(blank=True)
    # Web hooks only: the request headers (event, resource, timestamp, signature; no personal data).
    headers = models.JSONField(default=dict, blank=True)
    # Short code shown in the message and in the account's "messages we sent you" (anti-phishing).
    code = models.CharField(_("verification code"), max_length=9, db_index=True)
    appointment = models.ForeignKey(
        "booking.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # One row per (event, channel): a replayed hook cannot queue the same message twice.
    dedup_key = models.CharField(max_length=160, unique=True)
    status = models.CharField(_("status"), max_length=12, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    # Not before this instant (reminders; retry backoff moves it forward).
    send_after = models.DateTimeField(_("send after"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    provider_id = models.CharField(max_length=120, blank=True)
    # Exception class / HTTP status only: never an address or a message body.
    last_error = models.CharField(_("last error"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(fields=["status", "send_after"]),
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.channel} {self.pk}"


class EntryStatus(models.TextChoices):
    ACTIVE = "active", _("Waiting")
    FULFILLED = "fulfilled", _("Got a slot")
    CANCELLED = "cancelled", _("Left the list")


class WaitingListEntry(PublicModel):
    """A patient asking to be told of an earlier slot with a practitioner for a visit reason."""

    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    practitioner = models.ForeignKey("directory.Practitioner", on_delete=models.CASCADE, related_name="+")
    motif = models.ForeignKey("scheduling.Motif", on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("directory.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # Only slots starting before this instant interest the patient (e.g. their current appointment).
    before = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.ACTIVE)

    class Meta:
        verbose_name = _("waiting list entry")
        verbose_name_plural = _("waiting list entries")
        indexes = [models.Index(fields=["practitioner", "motif", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "motif"], condition=models.Q(status="active"), name="waitlist_one_active_per_motif"
            )
        ]

    def __str__(self) -> str:
        return f"waiting list entry {self.pk}"


class OfferStatus(models.TextChoices):
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")
    DECLINED = "declined", _("Declined")


class WaitingListOffer(PublicModel):
    """A freed slot held for one waiting patient until `expires_at`, then passed to the next."""

    entry = models.ForeignKey(WaitingListEntry, on_delete=models.CASCADE, related_name="offers")
    # The hold (an Appointment row in status `held`) placed in the patient's name.
    hold = models.ForeignKey("booking.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    practitioner = models.ForeignKey("directory.Practitioner", on_delete=models.CASCADE, related_name="+")
    motif = models.ForeignKey("scheduling.Motif", on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("directory.Site", on_delete=models.CASCADE, related_name="+")
    start_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=OfferStatus.choices, default=OfferStatus.OFFERED)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"waiting list offer {self.pk}"


class CalendarFeed(PublicModel):
    """An account's calendar subscription link (`/calendar/<token>.ics`): its appointments, for a
    calendar application that fetches without a session. Only the token's SHA-256 is stored (the link
    is shown once); making a new link or stopping it kills the previous one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    last_read_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"calendar feed {self.pk}"


class AgendaCalendarFeed(PublicModel):
    """A practitioner agenda's private calendar link (`/agenda-calendar/<token>.ics`): its appointments
    for the practitioner's own calendar application. Only the token's SHA-256 is stored (shown once);
    a new link or stopping it kills the previous one. Events say only "appointment" unless the
    practitioner chose to show patients' names and visit reasons (`with_details`)."""

    agenda = models.OneToOneField("directory.Agenda", on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    with_details = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    last_read_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"agenda calendar feed {self.pk}"


class RemindersOff(PublicModel):
    """Reminders switched off for one agenda, one visit reason or one patient (a row per target;
    no row: reminders on). Confirmations, cancellations and moves are always sent: the patient must
    know what was booked or changed."""

    agenda = models.ForeignKey("directory.Agenda", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    motif = models.ForeignKey("scheduling.Motif", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(agenda__isnull=False, motif__isnull=True, patient__isnull=True)
                    | models.Q(agenda__isnull=True, motif__isnull=False, patient__isnull=True)
                    | models.Q(agenda__isnull=True, motif__isnull=True, patient__isnull=False)
                ),
                name="reminders_off_one_target",
            ),
            models.UniqueConstraint(
                fields=["agenda"], condition=models.Q(agenda__isnull=False), name="reminders_off_agenda"
            ),
            models.UniqueConstraint(
                fields=["motif"], condition=models.Q(motif__isnull=False), name="reminders_off_motif"
            ),
            models.UniqueConstraint(
                fields=["patient"], condition=models.Q(patient__isnull=False), name="reminders_off_patient"
            ),
        ]

    def __str__(self) -> str:
        return f"reminders off {self.pk}"
