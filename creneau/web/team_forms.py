"""Forms of the team pages. They give field-level messages first; `accounts.team` checks everything
again (an agenda of another organization, an existing member...) and its refusals land on the form."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from creneau.accounts.models import Role, User
from creneau.accounts.team import AgendaRights
from creneau.directory.models import Agenda

LANGUAGE_CHOICES = [("fr", "Français"), ("en", "English")]
RIGHT_FIELD = re.compile(r"^(view|book|manage|force)_(.+)$")


def practitioner_choices(agendas: list[Agenda]) -> list[tuple[str, Any]]:
    return [("", _("— choose —"))] + [(str(a.practitioner_id), a.practitioner.display_name) for a in agendas]


class RoleFields(forms.Form):
    """A role, and for the practitioner role which of the organization's practitioners this is."""

    role = forms.ChoiceField(
        label=_("Role"),
        choices=Role.choices,
        error_messages={"invalid_choice": _("Choose a role: practitioner, secretary or organization admin.")},
    )
    practitioner = forms.ChoiceField(
        label=_("Practitioner profile"),
        required=False,
        help_text=_("Only for the practitioner role: which of your organization's practitioners this person is."),
        error_messages={"invalid_choice": _("Unknown practitioner: choose one of your organization's.")},
    )

    def __init__(self, *args: Any, agendas: list[Agenda], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["practitioner"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = practitioner_choices(agendas)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("role") == Role.PRACTITIONER and not data.get("practitioner"):
            self.add_error("practitioner", _("Choose which practitioner of your organization this person is."))
        return data


class InviteForm(RoleFields):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
        error_messages={
            "invalid": _("Enter a valid e-mail address, such as name@example.fr."),
            "required": _("Enter the e-mail address of the person to invite."),
        },
    )
    language = forms.ChoiceField(label=_("Language of the invitation e-mail"), choices=LANGUAGE_CHOICES)

    field_order = ["email", "role", "practitioner", "language"]


class AcceptForm(forms.Form):
    """The password of the account an invitation creates."""

    password1 = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; avoid common passwords."),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            try:
                password_validation.validate_password(p1, User(email=self.email))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


def rights_from_post(data: Mapping[str, Any], agendas: list[Agenda]) -> dict[str, AgendaRights]:
    """Rights per agenda from the checkboxes `view_<id>`, `book_<id>`, `manage_<id>`. Every agenda of the
    organization is present (unchecked: no right); any other id posted is passed on as it came, so the
    service refuses it with its message instead of it being silently dropped."""
    flags: dict[str, set[str]] = {str(a.pk): set() for a in agendas}
    for key in data:
        match = RIGHT_FIELD.match(key)
        if match:
            flags.setdefault(match.group(2), set()).add(match.group(1))
    return {
        aid: AgendaRights(
            view="view" in got or bool(got), book="book" in got, manage="manage" in got, force="force" in got
        )
        for aid, got in flags.items()
    }


def rights_rows(
    agendas: list[Agenda], current: Mapping[uuid.UUID, AgendaRights], *, own_practitioner: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """One row per agenda for the rights table: its practitioner, the checked rights, and whether the
    member holds every right there anyway (their own agenda)."""
    rows = []
    for agenda in agendas:
        rights = current.get(agenda.pk, AgendaRights())
        rows.append(
            {
                "agenda": agenda,
                "own": own_practitioner is not None and agenda.practitioner_id == own_practitioner,
                "view": rights.view,
                "book": rights.book,
                "manage": rights.manage,
                "force": rights.force,
            }
        )
    return rows
