"""Forms of the web pages. Services validate again; forms give field-level messages first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from creneau.core.errors import InvalidInput
from creneau.directory.models import ConventionSector, PaymentMethod
from creneau.directory.validators import normalize_practice_phone
from creneau.patients.models import Patient, Relationship, Sex
from creneau.patients.phones import normalize_phone
from creneau.scheduling.models import Audience, VisitChannel, Weekday


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


class IdentityForm(forms.Form):
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    birth_date = forms.DateField(label=_("Date of birth"), widget=DateInput())
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, initial=Sex.UNKNOWN, required=False)
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=30,
        required=False,
        help_text=_("A French mobile number, e.g. 06 12 34 56 78. We confirm it by SMS before sending reminders."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data.get("phone", ""))
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc.message)) from exc

    def clean_birth_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["birth_date"]
        if value > dt.date.today() or value < dt.date(1900, 1, 1):
            raise forms.ValidationError(_("Please check the date of birth."))
        return value

    def identity(self) -> dict[str, Any]:
        data = {k: self.cleaned_data[k] for k in ("given_name", "family_name", "birth_date", "phone")}
        data["sex"] = self.cleaned_data.get("sex") or Sex.UNKNOWN
        return data


class RelativeForm(IdentityForm):
    relationship = forms.ChoiceField(
        label=_("Relationship"), choices=[c for c in Relationship.choices if c[0] != Relationship.SELF]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["relationship"])


class WhoForm(forms.Form):
    """For whom is the appointment: a person on the account, or a new relative."""

    patient = forms.ChoiceField(label=_("Who is the appointment for?"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, patients: list[Patient], new_self: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, Any]] = [("self", _("Me"))] if new_self else []
        choices += [
            (str(p.pk), _("Me") if p.relationship == Relationship.SELF else f"{p.given_name} {p.family_name}")
            for p in patients
        ]
        choices.append(("new", _("Someone else (add a relative)")))
        self.fields["patient"].choices = choices  # type: ignore[attr-defined]
        self.fields["patient"].initial = choices[0][0]


class StaffPatientSearchForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("Any part of the family or given name, two letters or more."),
    )
    birth_date = forms.DateField(label=_("Date of birth"), required=False, widget=DateInput())
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("name") or data.get("birth_date") or data.get("phone")):
            raise forms.ValidationError(_("Enter part of the name, a date of birth or a phone number."))
        return data


class MotifForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=5, max_value=480, initial=20)
    buffer_minutes = forms.IntegerField(label=_("Buffer after (minutes)"), min_value=0, max_value=120, initial=0)
    audience = forms.ChoiceField(label=_("Who may book"), choices=Audience.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=VisitChannel.choices)
    min_notice_minutes = forms.IntegerField(label=_("Minimum notice (minutes)"), min_value=0, initial=60)
    max_horizon_days = forms.IntegerField(
        label=_("Bookable up to (days ahead)"), min_value=1, max_value=365, initial=60
    )
    bookable_online = forms.BooleanField(label=_("Bookable online"), required=False, initial=True)
    shown_online = forms.BooleanField(
        label=_("Shown on the public page"),
        required=False,
        initial=True,
        help_text=_("Unticked: for the practice's own use, neither shown nor bookable online."),
    )
    category = forms.CharField(
        label=_("Category"), max_length=60, required=False, help_text=_("Groups visit reasons, e.g. Vaccinations.")
    )
    site_id = forms.ChoiceField(label=_("Offered at"), required=False)
    min_age_years = forms.IntegerField(label=_("Minimum age (years)"), min_value=0, max_value=130, required=False)
    max_age_years = forms.IntegerField(label=_("Maximum age (years)"), min_value=0, max_value=130, required=False)
    instructions = forms.CharField(
        label=_("Instructions before the visit"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent with the confirmation and reminder e-mails (never by SMS): documents to bring, fasting."),
    )

    def __init__(self, *args: Any, sites: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site_id"].choices = [("", _("Every site")), *(sites or [])]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("min_age_years"), data.get("max_age_years")
        if low is not None and high is not None and low > high:
            self.add_error("max_age_years", _("The minimum age cannot be above the maximum age."))
        return data


class QuestionForm(forms.Form):
    text = forms.CharField(label=_("Question"), max_length=300, required=False)
    required = forms.BooleanField(label=_("An answer is required"), required=False, initial=True)

    def clean_text(self) -> str:
        text: str = (self.cleaned_data.get("text") or "").strip()
        if not text:
            raise forms.ValidationError(_("Write the question."))
        return text


class AnswersForm(forms.Form):
    """The visit reason's questions, one text field each (named by the question's id)."""

    def __init__(self, *args: Any, questions: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for q in questions:
            self.fields[f"q_{q.pk}"] = forms.CharField(
                label=q.text,
                max_length=500,
                required=q.required,
                widget=forms.Textarea(attrs={"rows": 2}),
                error_messages={"required": _("Please answer this question.")},
            )

    def answers(self) -> dict[str, str]:
        return {name[2:]: value for name, value in self.cleaned_data.items() if name.startswith("q_")}


class OpeningRuleForm(forms.Form):
    site = forms.ChoiceField(label=_("Site"))
    weekday = forms.TypedChoiceField(label=_("Day"), choices=Weekday.choices, coerce=int)
    start_time = forms.TimeField(label=_("Opens at"), widget=TimeInput())
    end_time = forms.TimeField(label=_("Closes at"), widget=TimeInput())
    valid_from = forms.DateField(label=_("Valid from"), widget=DateInput())
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DateInput())

    def __init__(self, *args: Any, sites: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = sites  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start_time") and data.get("end_time") and data["end_time"] <= data["start_time"]:
            self.add_error("end_time", _("Closing time must be after opening time."))
        return data


class AbsenceForm(forms.Form):
    start_at = forms.DateTimeField(
        label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    end_at = forms.DateTimeField(
        label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    label = forms.CharField(label=_("Label"), max_length=120, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start_at") and data.get("end_at") and data["end_at"] <= data["start_at"]:
            self.add_error("end_at", _("An absence must end after it starts."))
        return data


class PhoneCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code received by SMS"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}),
    )


class PractitionerProfileForm(forms.Form):
    convention_sector = forms.ChoiceField(
        label=_("Convention sector"), choices=[("", _("Not stated")), *ConventionSector.choices], required=False
    )
    optam = forms.BooleanField(label=_("OPTAM signatory (sector 2)"), required=False)
    fees = forms.CharField(
        label=_("Fees"), max_length=300, required=False, help_text=_("e.g. Consultation 30 €, follow-up 25 €.")
    )
    accepts_carte_vitale = forms.BooleanField(label=_("Carte Vitale accepted"), required=False)
    tiers_payant = forms.BooleanField(label=_("Tiers payant"), required=False)
    payment_methods = forms.MultipleChoiceField(
        label=_("Payment methods"), choices=PaymentMethod.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("optam") and data.get("convention_sector") != ConventionSector.SECTOR_2:
            self.add_error("optam", _("OPTAM is an option of sector 2 only."))
        return data


class SiteProfileForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    wheelchair_access = forms.BooleanField(label=_("Wheelchair accessible"), required=False)
    floor = forms.CharField(label=_("Floor"), max_length=60, required=False, help_text=_("e.g. 2nd floor, lift"))
    door_code = forms.CharField(
        label=_("Door code"), max_length=20, required=False, help_text=_("Shown only to patients with an appointment.")
    )
    transport = forms.CharField(label=_("Public transport"), max_length=300, required=False)
    parking = forms.CharField(label=_("Parking"), max_length=300, required=False)

    def clean_phone(self) -> str:
        return normalize_practice_phone(self.cleaned_data.get("phone", ""))  # a clear ValidationError if not


class PhotoForm(forms.Form):
    photo = forms.FileField(
        label=_("Photo"),
        help_text=_("JPEG, PNG or WebP, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
