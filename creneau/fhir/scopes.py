"""SMART on FHIR v2 system scopes (`system/Slot.rs`, `system/Appointment.cruds`, `system/*.rs`),
with the v1 forms (`.read`, `.write`, `.*`) read as their v2 equivalents.

A permission is the pair (resource type, interaction letter): c create, r read, u update, d delete,
s search. What a request may do for an organization is the intersection of the token's scopes and
the scopes that organization granted to the client."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy
from oauth2_provider.scopes import BaseScopes

RESOURCE_TYPES = (
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Schedule",
    "Slot",
    "Appointment",
    "Patient",
)
LETTERS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^system/(?P<type>\*|[A-Za-z]+)\.(?P<perms>[cruds]+|read|write|\*)$")

# Scopes an organization admin picks from in the grant form.
GRANTABLE = (
    "system/Organization.rs",
    "system/Location.rs",
    "system/Practitioner.rs",
    "system/PractitionerRole.rs",
    "system/HealthcareService.rs",
    "system/Schedule.rs",
    "system/Slot.rs",
    "system/Appointment.rs",
    "system/Appointment.cruds",
    "system/Patient.rs",
    "system/Patient.crs",
)
# What each grantable scope lets the software do, in the admin's words.
GRANTABLE_LABELS = {
    "system/Organization.rs": gettext_lazy("See your organization's public details"),
    "system/Location.rs": gettext_lazy("See your sites and addresses"),
    "system/Practitioner.rs": gettext_lazy("See your practitioners' public profiles"),
    "system/PractitionerRole.rs": gettext_lazy("See who works at which site"),
    "system/HealthcareService.rs": gettext_lazy("See your visit reasons"),
    "system/Schedule.rs": gettext_lazy("See your agendas"),
    "system/Slot.rs": gettext_lazy("See free slots"),
    "system/Appointment.rs": gettext_lazy("See appointments"),
    "system/Appointment.cruds": gettext_lazy("See, book and cancel appointments"),
    "system/Patient.rs": gettext_lazy("See your patients' names, birth dates and contact details"),
    "system/Patient.crs": gettext_lazy("See and add patients"),
}


def parse_scope(scope: str) -> set[tuple[str, str]] | None:
    """The permissions a scope string gives, or None if it is not a scope we know."""
    m = _SCOPE.match(scope)
    if m is None:
        return None
    rtype, perms = m["type"], m["perms"]
    if rtype != "*" and rtype not in RESOURCE_TYPES:
        return None
    letters = _V1.get(perms, perms)
    if perms not in _V1 and (
        len(set(letters)) != len(letters) or "".join(sorted(letters, key=LETTERS.index)) != letters
    ):
        return None  # v2 letters appear at most once, in the order c r u d s
    types = RESOURCE_TYPES if rtype == "*" else (rtype,)
    return {(t, letter) for t in types for letter in letters}


def permissions(scopes: Iterable[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for s in scopes:
        out |= parse_scope(s) or set()
    return out


def valid_scope(scope: str) -> bool:
    return parse_scope(scope) is not None


def all_scope_strings() -> list[str]:
    """Every well-formed v2 scope string (resource types and `*` × ordered subsets of cruds)."""
    combos = ["".join(c) for n in range(1, len(LETTERS) + 1) for c in itertools.combinations(LETTERS, n)]
    return [f"system/{t}.{p}" for t in ("*", *RESOURCE_TYPES) for p in combos] + [
        f"system/{t}.{v}" for t in ("*", *RESOURCE_TYPES) for v in _V1
    ]


class SmartScopes(BaseScopes):
    """django-oauth-toolkit scopes backend: a client may request any scope implied by the grants it
    currently holds; with no scope requested it gets exactly those grants' scopes."""

    def get_all_scopes(self) -> dict[str, str]:
        return {s: s for s in all_scope_strings()}

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        granted = permissions(_granted_scopes(application))
        return [s for s in all_scope_strings() if (parse_scope(s) or {("", "")}) <= granted]

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list[str]:
        return sorted(set(_granted_scopes(application)))


def _granted_scopes(application: Any) -> list[str]:
    if application is None:
        return []
    from .models import ApiGrant

    out: list[str] = []
    for scopes in ApiGrant.objects.active().filter(application=application).values_list("scopes", flat=True):
        out += scopes.split()
    return out
