"""Directory: who practises where. Public information only; no patient data lives here."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from creneau.core.models import PublicModel

from .validators import validate_rpps


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone."), code="time_zone")


class Specialty(models.Model):
    """A medical specialty from the shipped nomenclature (data/specialties.json)."""

    code = models.CharField(max_length=16, primary_key=True)
    label_fr = models.CharField(max_length=120)
    label_en = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)

    class Meta:
        ordering = ["label_fr"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.label_en if (get_language() or "fr").startswith("en") else self.label_fr


class OrganizationKind(models.TextChoices):
    PRACTICE = "practice", _("Practice")
    HEALTH_CENTRE = "health_centre", _("Health centre")
    CLINIC = "clinic", _("Clinic")
    HOSPITAL_DEPARTMENT = "hospital_department", _("Hospital department")


class Organization(PublicModel):
    """The legal entity that owns agendas and grants access to them (the tenant)."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganizationKind.choices)
    is_active = models.BooleanField(default=True)
    # Its staff must pass the second step of every sign-in with a passkey (accounts.passkeys).
    require_passkeys = models.BooleanField(_("staff sign in with a passkey"), default=False)

    def __str__(self) -> str:
        return self.name


class Site(PublicModel):
    """A place where an organization receives patients."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=250)
    postcode = models.CharField(_("postcode"), max_length=5)
    city = models.CharField(_("city"), max_length=120)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=settings.CRENEAU_DEFAULT_TIME_ZONE, validators=[validate_time_zone]
    )
    # Practice profile: how to reach it and get in (public, shown on the practitioner's page; the door
    # code only to patients with an appointment there).
    phone = models.CharField(_("phone number"), max_length=20, blank=True)  # E.164, checked by phonenumbers
    wheelchair_access = models.BooleanField(_("wheelchair access"), default=False)
    floor = models.CharField(_("floor"), max_length=60, blank=True)
    door_code = models.CharField(_("door code"), max_length=20, blank=True)
    transport = models.CharField(_("public transport"), max_length=300, blank=True)
    parking = models.CharField(_("parking"), max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["postcode"]), models.Index(fields=["city"])]

    @property
    def phone_display(self) -> str:
        """The phone number as French people write it (01 23 45 67 89), or the international form abroad."""
        from .validators import phone_display

        return phone_display(self.phone)

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class ConventionSector(models.TextChoices):
    """Assurance Maladie contract: what the patient pays beyond the reimbursed fee."""

    SECTOR_1 = "1", _("Sector 1 (contracted fees)")
    SECTOR_2 = "2", _("Sector 2 (fees above the contracted rate)")
    NOT_CONTRACTED = "3", _("Not contracted with the health insurance")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Bank card")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    TRANSFER = "transfer", _("Bank transfer")


def practitioner_name_key(given_name: str, family_name: str) -> str:
    """Accent- and case-folded 'given family', what name search matches against."""
    from .vocabulary import fold

    return fold(f"{given_name} {family_name}")[:220]


class Practitioner(PublicModel):
    """A health professional with one public profile, whatever the number of sites."""

    rpps = models.CharField(_("RPPS number"), max_length=11, unique=True, validators=[validate_rpps])
    title = models.CharField(_("title"), max_length=20, default="Dr")
    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="practitioners")
    languages = models.JSONField(_("languages spoken"), default=list, blank=True)
    accepts_new_patients = models.BooleanField(_("accepts new patients"), default=True)
    convention_sector = models.CharField(
        _("convention sector"), max_length=1, choices=ConventionSector.choices, blank=True, default=""
    )
    # Practice profile (public): OPTAM is an option of sector 2 (fees above the rate, within limits).
    optam = models.BooleanField(_("OPTAM signatory"), default=False)
    fees = models.CharField(_("fees"), max_length=300, blank=True)
    accepts_carte_vitale = models.BooleanField(_("Carte Vitale accepted"), default=True)
    tiers_payant = models.BooleanField(_("tiers payant"), default=False)
    payment_methods = models.JSONField(_("payment methods"), default=list, blank=True)
    # Folded "given family" for name search (kept in step by save(); bulk inserts set it themselves).
    name_key = models.CharField(max_length=220, blank=True, default="", db_index=True, editable=False)
    # Patients may not cancel or move online within this many hours before the appointment.
    cancellation_deadline_hours = models.PositiveSmallIntegerField(_("cancellation deadline (hours)"), default=4)
    sites = models.ManyToManyField(Site, through="PractitionerSite", related_name="practitioners")
    is_active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["specialty", "is_active"])]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: object, **kwargs: object) -> None:
        self.name_key = practitioner_name_key(self.given_name, self.family_name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ("given_name" in update_fields or "family_name" in update_fields):  # type: ignore[operator]
            kwargs["update_fields"] = {*update_fields, "name_key"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def display_name(self) -> str:
        return f"{self.title} {self.given_name} {self.family_name}".strip()


PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class PractitionerPhoto(PublicModel):
    """The practitioner's photo, checked by content (directory/images.py) and stored in the database
    with the type found there: served only with that type, never as the uploader named it."""

    practitioner = models.OneToOneField(Practitioner, on_delete=models.CASCADE, related_name="photo")
    content_type = models.CharField(max_length=20, choices=[(k, k) for k in PHOTO_TYPES])
    data = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"photo of {self.practitioner_id}"


class PractitionerSite(models.Model):
    """A practitioner works at a site (of some organization)."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="site_links")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="practitioner_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practitioner", "site"], name="practitioner_site_unique")]

    def __str__(self) -> str:
        return f"{self.practitioner_id} @ {self.site_id}"


class Agenda(PublicModel):
    """A practitioner's calendar within one organization: the unit that owns visit reasons, opening
    hours and absences, and on which staff hold rights. A practitioner working for two organizations
    has two agendas; neither organization sees or changes the other's."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="agendas")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="agendas")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "practitioner"], name="agenda_unique_per_organization")
        ]

    def __str__(self) -> str:
        return f"agenda {self.practitioner_id} @ {self.organization_id}"
