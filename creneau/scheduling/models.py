"""Scheduling: what can be booked (motifs), when (opening rules), when not (absences), and the index
of next free slots that search pages read instead of recomputing calendars."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from creneau.core.models import PublicModel


class Audience(models.TextChoices):
    ALL = "all", _("All patients")
    NEW = "new", _("New patients only")
    RETURNING = "returning", _("Returning patients only")


class VisitChannel(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    VIDEO = "video", _("Video consultation")


class Motif(PublicModel):
    """A visit reason a practitioner offers, with its duration and booking rules."""

    # The agenda (practitioner × organization) that offers it; `practitioner` is the agenda's, copied for
    # the slot engine and search queries, and always set together with it by the services.
    agenda = models.ForeignKey("directory.Agenda", on_delete=models.CASCADE, related_name="motifs")
    practitioner = models.ForeignKey("directory.Practitioner", on_delete=models.CASCADE, related_name="motifs")
    name = models.CharField(_("name"), max_length=120)
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    # Free time kept after each appointment of this motif (cleaning, notes).
    buffer_minutes = models.PositiveSmallIntegerField(
        _("buffer after (minutes)"), default=0, validators=[MaxValueValidator(120)]
    )
    audience = models.CharField(_("who may book"), max_length=16, choices=Audience.choices, default=Audience.ALL)
    channel = models.CharField(
        _("channel"), max_length=16, choices=VisitChannel.choices, default=VisitChannel.IN_PERSON
    )
    min_notice_minutes = models.PositiveIntegerField(_("minimum notice (minutes)"), default=60)
    max_horizon_days = models.PositiveSmallIntegerField(
        _("bookable up to (days ahead)"), default=60, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    bookable_online = models.BooleanField(_("bookable online"), default=True)
    # Listed on the public page (a visit reason booked by phone only is still worth showing); a hidden
    # one is for the practice's own use and never bookable online either.
    shown_online = models.BooleanField(_("shown on the public page"), default=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Groups the visit reasons on the public page and in the practice's lists ("Consultations", "Vaccins").
    category = models.CharField(_("category"), max_length=60, blank=True)
    # Offered at this site only (empty: at every site of the agenda's organization where it has hours).
    site = models.ForeignKey(
        "directory.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("site")
    )
    # Sent with the confirmation and the reminder e-mails (documents to bring, fasting), never by SMS.
    instructions = models.TextField(_("instructions before the visit"), max_length=1000, blank=True)
    # Age of the patient on the day of the visit, in whole years; empty: no limit.
    min_age_years = models.PositiveSmallIntegerField(
        _("minimum age (years)"), null=True, blank=True, validators=[MaxValueValidator(130)]
    )
    max_age_years = models.PositiveSmallIntegerField(
        _("maximum age (years)"), null=True, blank=True, validators=[MaxValueValidator(130)]
    )

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(duration_minutes__gte=5), name="motif_min_duration"),
            models.CheckConstraint(
                condition=models.Q(min_age_years__isnull=True)
                | models.Q(max_age_years__isnull=True)
                | models.Q(max_age_years__gte=models.F("min_age_years")),
                name="motif_age_range",
            ),
        ]

    def clean(self) -> None:
        if (
            self.min_age_years is not None
            and self.max_age_years is not None
            and self.min_age_years > self.max_age_years
        ):
            raise ValidationError(_("The minimum age cannot be above the maximum age."))

    def age_refusal(self, age: int) -> str | None:
        """The message refusing a patient of this age, or None when the age is within the limits."""
        low, high = self.min_age_years, self.max_age_years
        if (low is None or age >= low) and (high is None or age <= high):
            return None
        if low is not None and high is not None:
            return _("This visit reason is for patients aged %(min)d to %(max)d.") % {"min": low, "max": high}
        if low is not None:
            return _("This visit reason is for patients aged %(min)d or more.") % {"min": low}
        return _("This visit reason is for patients aged %(max)d or less.") % {"max": high}

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"


QUESTION_MAX = 300
ANSWER_MAX = 500


class MotifQuestion(PublicModel):
    """A question the practice asks before a visit of this reason ("Do you have a prescription?").
    Patients answer it in the booking flow; the answers are kept, encrypted, with the appointment."""

    motif = models.ForeignKey(Motif, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(_("question"), max_length=QUESTION_MAX)
    required = models.BooleanField(_("an answer is required"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "created_at"]
        constraints = [models.CheckConstraint(condition=~models.Q(text=""), name="motif_question_has_text")]

    def __str__(self) -> str:
        return self.text


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class OpeningRule(PublicModel):
    """Weekly opening hours of an agenda at one of its organization's sites, in the site's wall-clock time."""

    agenda = models.ForeignKey("directory.Agenda", on_delete=models.CASCADE, related_name="opening_rules")
    practitioner = models.ForeignKey("directory.Practitioner", on_delete=models.CASCADE, related_name="opening_rules")
    site = models.ForeignKey("directory.Site", on_delete=models.CASCADE, related_name="opening_rules")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("opens at"))
    end_time = models.TimeField(_("closes at"))
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    # Empty means every active motif of the agenda may be booked in these hours.
    motifs = models.ManyToManyField(Motif, blank=True, related_name="opening_rules")

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")), name="rule_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True) | models.Q(valid_until__gte=models.F("valid_from")),
                name="rule_valid_period",
            ),
        ]

    def clean(self) -> None:
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValidationError(_("Closing time must be after opening time."))


class Absence(PublicModel):
    """A period when the practitioner receives no one (holidays, training, a blocked afternoon).

    Entered in one agenda, it blocks the practitioner's time in every organization: the others see only
    busy time, never the label, and can neither see nor change the absence itself."""

    agenda = models.ForeignKey("directory.Agenda", on_delete=models.CASCADE, related_name="absences")
    practitioner = models.ForeignKey("directory.Practitioner", on_delete=models.CASCADE, related_name="absences")
    start_at = models.DateTimeField(_("from"))
    end_at = models.DateTimeField(_("until"))
    label = models.CharField(_("label"), max_length=120, blank=True)

    class Meta:
        indexes = [models.Index(fields=["practitioner", "start_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_at__gt=models.F("start_at")), name="absence_positive")
        ]


class AvailabilityIndex(models.Model):
    """Precomputed upcoming free starts per practitioner, motif and site.

    Rebuilt for a practitioner whenever its agenda changes (booking, cancellation, rules, absences) and
    periodically as time passes, so a search over dozens of practitioners is one indexed query."""

    practitioner = models.ForeignKey(
        "directory.Practitioner", on_delete=models.CASCADE, related_name="availability_index"
    )
    motif = models.ForeignKey(Motif, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("directory.Site", on_delete=models.CASCADE, related_name="+")
    next_start = models.DateTimeField(null=True, db_index=True)
    # ISO-8601 UTC starts, ascending, capped at CRENEAU_INDEX_MAX_SLOTS.
    starts = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "motif", "site"], name="availability_index_unique")
        ]

    def __str__(self) -> str:
        return f"next {self.next_start} for {self.practitioner_id}/{self.motif_id}"
