"""Patients: account holders and the relatives they manage, and patients created by a practice.

Every identifying field lives in `PatientIdentity`, one place, so that encryption at rest can wrap
exactly these fields and nothing identifying hides elsewhere."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from creneau.core.crypto.blind import NAME_GRAM_HEX, name_grams
from creneau.core.crypto.fields import (
    BlindIndexField,
    EncryptedCharField,
    EncryptedDateField,
    EncryptedEmailField,
    SealedRecordField,
    expand_update_fields,
)
from creneau.core.models import PublicModel

from .querysets import PatientQuerySet


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "X", _("Other")
    UNKNOWN = "U", _("Not stated")


class Relationship(models.TextChoices):
    SELF = "self", _("Myself")
    CHILD = "child", _("Child")
    PARTNER = "partner", _("Partner")
    PARENT = "parent", _("Parent")
    OTHER = "other", _("Other relative")


# The personal fields: encryption, audit minimisation and exports all key off this tuple.
IDENTITY_FIELDS = (
    "family_name",
    "given_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "address_line",
    "postcode",
    "city",
)


class PatientIdentity(models.Model):
    """Every field here is encrypted at rest, all together in the `identity` column: one AES-256-GCM
    token per row, bound to table, row and column, opened once on the first read of any of them. The
    `*_bidx` columns of `Patient` are the only way to find a row by one of them."""

    identity = SealedRecordField(layout=IDENTITY_FIELDS)
    family_name = EncryptedCharField(_("family name"), max_length=100, record="identity")
    given_name = EncryptedCharField(_("given name"), max_length=100, record="identity")
    birth_date = EncryptedDateField(_("date of birth"), record="identity")
    sex = EncryptedCharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN, record="identity")
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True, record="identity")
    email = EncryptedEmailField(_("email"), blank=True, record="identity")
    address_line = EncryptedCharField(_("address"), max_length=250, blank=True, record="identity")
    postcode = EncryptedCharField(_("postcode"), max_length=10, blank=True, record="identity")
    city = EncryptedCharField(_("city"), max_length=120, blank=True, record="identity")

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # `update_fields=["phone"]` means: re-seal the identity record and recompute the phone index.
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = expand_update_fields(type(self), kwargs["update_fields"])
        elif "identity" not in self.__dict__ and not self._state.adding:
            # Loaded with .only()/.defer(): load the record, or Django would save the row without it
            # and drop identity values assigned meanwhile.
            _ = self.identity
        super().save(*args, **kwargs)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        # Members have no column: reloading one reloads the record, whose old opened values then go.
        fields = kwargs.get("fields", args[1] if len(args) > 1 else None)
        if fields is not None:
            fields = expand_update_fields(type(self), fields)
            if len(args) > 1:
                args = (args[0], fields, *args[2:])
            else:
                kwargs["fields"] = fields
        reloads = fields is None or "identity" in fields
        loaded = "identity" in self.__dict__
        super().refresh_from_db(*args, **kwargs)
        if reloads and loaded:
            field = self._meta.get_field("identity")
            assert isinstance(field, SealedRecordField)
            field.forget_members(self)


class Patient(PatientIdentity, PublicModel):
    """A person who receives care. Managed by an account (themselves or a relative) or by a practice."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patients"
    )
    relationship = models.CharField(
        _("relationship"), max_length=16, choices=Relationship.choices, default=Relationship.SELF
    )
    # Set when a practice created this record (phone booking) rather than the patient.
    created_by_organization = models.ForeignKey(
        "directory.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # When the account holder proved, with a code sent by SMS, that `phone` is theirs. Reset when the
    # number changes; SMS reminders go only to a verified number.
    phone_verified_at = models.DateTimeField(null=True, blank=True)

    objects = PatientQuerySet.as_manager()
    # Blind indexes (HMAC of normalized values, key of their own): exact-match search without decrypting.
    email_bidx = BlindIndexField(kind="email", sources=["email"])
    phone_bidx = BlindIndexField(kind="phone", sources=["phone"])
    name_birth_bidx = BlindIndexField(kind="name_birth", sources=["family_name", "birth_date"])
    birth_bidx = BlindIndexField(kind="birth", sources=["birth_date"])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(relationship="self"), name="one_self_patient_per_account"
            )
        ]

    def __str__(self) -> str:
        # Never the name: str() ends up in logs, admin messages and exception reports.
        return f"patient {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving the names keeps their fragment index (`PatientNameGram`) in step, in the same
        transaction: a renamed or anonymized patient is no longer found by the old name."""
        fields = kwargs.get("update_fields")
        names_change = fields is None or bool({"identity", "family_name", "given_name"} & set(fields))
        adding = self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if names_change:
                store_name_grams([self], new=adding)


class PatientNameGram(models.Model):
    """One keyed fragment digest of a patient's names (`core.crypto.blind.name_grams`): the index behind
    "search by any part of the name". Holds no plaintext; rows are replaced whenever the names are saved."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=NAME_GRAM_HEX)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["digest", "patient"], name="patient_name_gram_unique")]
        indexes = [models.Index(fields=["patient"], name="patient_name_gram_patient")]

    def __str__(self) -> str:
        return f"name gram {self.pk}"


def store_name_grams(patients: list[Patient], *, new: bool = False) -> None:
    """Replace the fragment digests of these patients (on save, after a bulk_create). `new`: rows just
    inserted, which have none yet (no read needed)."""
    if not patients:
        return
    wanted = {p.pk: name_grams(p.family_name, p.given_name) for p in patients}
    have: dict[Any, set[str]] = {pk: set() for pk in wanted}
    if not new:
        rows = PatientNameGram.objects.filter(patient_id__in=list(wanted)).values_list("patient_id", "digest")
        for pk, digest in rows:
            have[pk].add(digest)
        for pk, ds in have.items():
            if ds - wanted[pk]:
                PatientNameGram.objects.filter(patient_id=pk, digest__in=sorted(ds - wanted[pk])).delete()
    added = [PatientNameGram(patient_id=pk, digest=d) for pk, ds in wanted.items() for d in ds - have[pk]]
    PatientNameGram.objects.bulk_create(added, batch_size=1000)


NOTE_MAX_LENGTH = 2000


class PatientNote(PublicModel):
    """A note a practice keeps about a patient ("prefers mornings", "hard of hearing"): visible to that
    organization only, encrypted at rest (it may say anything about the person)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("directory.Organization", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = EncryptedCharField(_("note"), max_length=NOTE_MAX_LENGTH)

    class Meta:
        indexes = [models.Index(fields=["patient", "organization", "created_at"], name="patient_note_by_org")]

    def __str__(self) -> str:
        return f"note {self.pk}"


class BookingBlock(PublicModel):
    """An organization stopped a patient from booking with it online (repeated missed appointments).
    The practice can still book for them by phone; lifting the block keeps the row (`lifted_at`)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("directory.Organization", on_delete=models.CASCADE, related_name="+")
    blocked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = EncryptedCharField(_("reason"), max_length=500, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "organization"],
                condition=models.Q(lifted_at__isnull=True),
                name="one_active_booking_block",
            )
        ]

    def __str__(self) -> str:
        return f"booking block {self.pk}"


class PhoneVerification(PublicModel):
    """A 6-digit code sent by SMS to confirm a patient's phone number: stored as a keyed hash, valid a
    few minutes, a few tries (then a new code must be asked for, and sending codes is rate-limited)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="phone_verifications")
    # Keyed hash of the number the code was sent to: the code confirms that number only.
    phone_digest = models.CharField(max_length=64)
    code_digest = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "created_at"])]
