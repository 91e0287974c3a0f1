"""The audit trail: who touched which patient and appointment records, when, how.

Rows hold identifiers only, never personal values. Events and their per-record access rows are
append-only (database triggers, and a runtime database role that may only insert and select them). Each
event carries a MAC from the application instance that wrote it; a sealer chains events with HMACs under
keys held outside the database, and every new chain head is signed (Ed25519) and published off the
database host, so `audit_verify` can tell any edit, deletion, reordering, truncation or forged insert
(docs/audit.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    READ = "read", _("Read")
    SEARCH = "search", _("Search or list")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    CANCEL = "cancel", _("Cancel")
    EXPORT = "export", _("Export")
    DELETE = "delete", _("Delete")
    SUSPEND = "suspend", _("Suspend")
    ALERT = "alert", _("Alert")
    GRANT = "grant", _("Grant rights")
    REVOKE = "revoke", _("Revoke rights")
    SIGN_IN = "sign_in", _("Sign in")
    SIGN_OUT = "sign_out", _("Sign out")


class Outcome(models.TextChoices):
    OK = "ok", _("Allowed")
    NOT_FOUND = "not_found", _("Not found or not allowed")
    DENIED = "denied", _("Denied")


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    # Non-personal principal key (Actor.key): "user:<uuid>", "client:<id>", "system:…".
    principal = models.CharField(max_length=80)
    actor_kind = models.CharField(max_length=16)
    actor_role = models.CharField(max_length=40, blank=True)
    channel = models.CharField(max_length=16)
    api_client_id = models.CharField(max_length=80, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OK)
    # Which code path recorded it (e.g. "access_appointment"): no personal data.
    via = models.CharField(max_length=80, blank=True)
    record_count = models.PositiveIntegerField(default=0)
    # The non-patient object a write changed (a motif, opening hours, a grant...): its id, and for an
    # update the changed fields as {"field": [before, after]}. Agenda settings and rights only, never
    # patient identities.
    object_id = models.CharField(max_length=64, blank=True, default="")
    changes = models.JSONField(default=dict, blank=True)
    # Who wrote the row: the application instance (CRENEAU_INSTANCE_ID), the database role (set by a
    # PostgreSQL trigger, whatever the INSERT says) and the writer's MAC over the event and its access rows
    # ("kid:hex", under the seal keys). All three are sealed; an event without a valid MAC, or written by
    # another role than the application's, is reported as forged.
    writer = models.CharField(max_length=64, blank=True, default="")
    db_role = models.CharField(max_length=64, blank=True, default="")
    mac = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["principal", "at"])]

    def __str__(self) -> str:
        return f"audit {self.pk} {self.action} {self.object_type}"


class AuditAccess(models.Model):
    """One record touched by an event: the unit a breach scope and a patient's journal are built from."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="accesses", db_constraint=False)
    at = models.DateTimeField()
    principal = models.CharField(max_length=80)
    patient_id = models.UUIDField(null=True)
    appointment_id = models.UUIDField(null=True)
    organization_id = models.UUIDField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient_id", "at"]),
            models.Index(fields=["appointment_id"]),
            models.Index(fields=["principal", "at"]),
        ]

    def __str__(self) -> str:
        return f"access {self.pk} of event {self.event_id}"


class AuditSeal(models.Model):
    """Position of an event in the chain. `seq` orders the chain; `hash` is an HMAC under the seal key
    `key_id` (empty: an unkeyed SHA-256 seal written before keyed seals existed, accepted only as the
    chain's prefix)."""

    seq = models.BigAutoField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="seal", db_constraint=False)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()
    key_id = models.CharField(max_length=32, blank=True, default="")

    def __str__(self) -> str:
        return f"seal {self.seq}"


class AuditCheckpoint(models.Model):
    """The database's copy of a published head: 'the chain had `seq` seals ending in `hash`', signed with
    the Ed25519 key `key_id` (base64 signature). The copies that matter are the ones in the anchor sinks,
    off the database host (creneau.audit.anchors)."""

    id = models.BigAutoField(primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    signature = models.CharField(max_length=128)
    key_id = models.CharField(max_length=32, blank=True, default="")
    # The trail the head belongs to (the hash of the chain's first seal; "" for version-1 heads).
    trail = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"checkpoint {self.seq}"


class Severity(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class DetectionAlert(models.Model):
    """A rule fired for a principal. At most one per principal, rule and window."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    principal = models.CharField(max_length=80, db_index=True)
    rule = models.CharField(max_length=40)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    # Numbers only (counts, thresholds): never personal data.
    measured = models.PositiveIntegerField()
    threshold = models.PositiveIntegerField()
    suspended = models.BooleanField(default=False)
    organization_ids = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.rule} on {self.principal}"


class SuspendedPrincipal(models.Model):
    """A principal stopped by detection or by an operator; every request of theirs is refused."""

    principal = models.CharField(max_length=80, primary_key=True)
    at = models.DateTimeField()
    reason = models.CharField(max_length=80)

    def __str__(self) -> str:
        return f"suspended {self.principal}"


class DetectionWindowEntry(models.Model):
    """When a principal last read a patient: the sliding-window count reads these (one row per pair)
    instead of every access row in the window. Derived from the trail, kept in step with it in the same
    transaction; not part of the trail itself (it is updated in place and pruned)."""

    id = models.BigAutoField(primary_key=True)
    principal = models.CharField(max_length=80)
    patient_id = models.UUIDField()
    last_at = models.DateTimeField()

    class Meta:
        # last_at is deliberately not indexed: a read then updates its rows in place (PostgreSQL HOT
        # updates, with the table's fillfactor) instead of adding index entries at every read.
        constraints = [models.UniqueConstraint(fields=["principal", "patient_id"], name="audit_window_pair")]

    def __str__(self) -> str:
        return f"window {self.principal}"
