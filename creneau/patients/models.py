"""Patients: account holders and the relatives they manage, and patients created by a practice.

Every identifying field lives in `PatientIdentity`, one place, so that encryption at rest can wrap
exactly these fields and nothing identifying hides elsewhere."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.crypto.fields import BlindIndexField, EncryptedCharField, EncryptedDateField, EncryptedEmailField
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
    """Every field here is encrypted at rest (AES-256-GCM, bound to table, row and field); the
    `*_bidx` columns of `Patient` are the only way to find a row by one of them."""

    family_name = EncryptedCharField(_("family name"), max_length=100)
    given_name = EncryptedCharField(_("given name"), max_length=100)
    birth_date = EncryptedDateField(_("date of birth"))
    sex = EncryptedCharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True)
    email = EncryptedEmailField(_("email"), blank=True)
    address_line = EncryptedCharField(_("address"), max_length=250, blank=True)
    postcode = EncryptedCharField(_("postcode"), max_length=10, blank=True)
    city = EncryptedCharField(_("city"), max_length=120, blank=True)

    class Meta:
        abstract = True


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

    objects = PatientQuerySet.as_manager()
    # Blind indexes (HMAC of normalized values, key of their own): exact-match search without decrypting.
    email_bidx = BlindIndexField(kind="email", sources=["email"])
    phone_bidx = BlindIndexField(kind="phone", sources=["phone"])
    name_birth_bidx = BlindIndexField(kind="name_birth", sources=["family_name", "birth_date"])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=models.Q(relationship="self"), name="one_self_patient_per_account"
            )
        ]

    def __str__(self) -> str:
        # Never the name: str() ends up in logs, admin messages and exception reports.
        return f"patient {self.pk}"
