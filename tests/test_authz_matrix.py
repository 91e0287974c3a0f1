"""The authorization matrix (issue 12, item 5): every URL pattern of the project, walked from the URL
configuration, × every persona × every method, against one explicit table of what the product should
answer. A route with no row fails, a row for a route that no longer exists fails.

Each cell is a real request (Django's test client, through every middleware, the second factor
enforced) with the persona's session or bearer token and URL parameters filled with real objects of
organizations A and B (tests/authz_world.py). Beyond the status, the walk checks that:

- a foreign object answers exactly like a made-up id (the same bytes, once the per-request CSRF token
  and the ids themselves are blanked out);
- a refused write (POST/PUT/DELETE answered with anything but success) issued no INSERT, UPDATE or
  DELETE on any table but the audit trail and the session store.

Every cell runs in a savepoint that is rolled back: the world stays the same for the next cell, and
allowed writes (a cancellation by the patient, a deletion of opening hours by the secretary) really run.

Outcomes state what the product should do. A cell where main does something else and the fix is not
small goes in KNOWN_GAPS with the reason; the test fails as soon as such a cell starts behaving (strict)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from . import authz_walk as aw
from . import authz_world as w
from .authz_walk import (
    CONFLICT,
    FORBIDDEN,
    INVALID,
    LOGIN,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OK,
    REDIRECT,
    SUSPENDED,
    UNAUTHORIZED,
)
from .authz_world import (
    ADMIN_A,
    ANON,
    API_A,
    API_B,
    DOC_COLLEAGUE,
    DOC_OWN,
    OPERATOR,
    OTHER_PATIENT,
    PATIENT,
    PERSONAS,
    RELATIVE,
    SEC_A,
    SEC_A_NO,
    SEC_B,
    SUSPENDED_API,
    SUSPENDED_STAFF,
)

FHIR = "application/fhir+json"

# --- persona groups ---------------------------------------------------------------------------------
NO_SESSION = (ANON, API_A, API_B, SUSPENDED_API)  # no browser session (API clients send their token)
OWNERS = (PATIENT, RELATIVE)  # the patient, and the account managing the relative, on their own objects
PATIENTS = (PATIENT, RELATIVE, OTHER_PATIENT)
STAFF = (SEC_A, SEC_A_NO, DOC_OWN, DOC_COLLEAGUE, SEC_B, ADMIN_A)
ON_X = (SEC_A, DOC_OWN, ADMIN_A)  # staff with rights on agenda X
SIGNED_IN = (*PATIENTS, *STAFF, OPERATOR)
API = (API_A, API_B)

Cells = dict[str, str]
Row = dict[str, Cells]


def cells(default: str, *overrides: tuple[str | Iterable[str], str]) -> Cells:
    """One outcome per persona: `default`, then each (persona or group, outcome) in order. A suspended
    account's browser is refused before any view runs, whatever the route."""
    out = dict.fromkeys(PERSONAS, default)
    out[SUSPENDED_STAFF] = SUSPENDED
    for who, outcome in overrides:
        for persona in (who,) if isinstance(who, str) else who:
            out[persona] = outcome
    return out


def everyone(outcome: str) -> Cells:
    return cells(outcome)


def signed_in(outcome: str, *overrides: tuple[str | Iterable[str], str]) -> Cells:
    """login_required pages: the sign-in page for anyone without a session."""
    return cells(outcome, (NO_SESSION, LOGIN), *overrides)


def owners(own: str, *overrides: tuple[str | Iterable[str], str]) -> Cells:
    """A patient's object: its owner gets `own`; any other signed-in user a 404 like a missing id."""
    return cells(NOT_FOUND, (NO_SESSION, LOGIN), (OWNERS, own), *overrides)


def staff_on_x(allowed: str, *overrides: tuple[str | Iterable[str], str]) -> Cells:
    """An object of agenda X: staff with rights on it get `allowed`; every other user a 404."""
    return cells(NOT_FOUND, (NO_SESSION, LOGIN), (ON_X, allowed), *overrides)


def not_allowed_signed_in() -> Cells:
    """A POST-only page opened with GET by a signed-in user (sign-in first for the others)."""
    return signed_in(METHOD_NOT_ALLOWED)


def fhir(get: Cells, post: Cells | None = None, put: Cells | None = None) -> Row:
    m405 = cells(METHOD_NOT_ALLOWED)
    return {"GET": get, "POST": post or m405, "PUT": put or m405, "DELETE": m405}


def fhir_public_type() -> Row:
    """A directory search: public (anonymous calls rate limited); a client sees only its granted
    organizations (an empty bundle for client B); a suspended client is refused."""
    return fhir(cells(OK, (SUSPENDED_API, SUSPENDED)))


def fhir_public_instance() -> Row:
    """A directory read of A's object: public; for client B a 404 like a made-up id."""
    return fhir(cells(OK, (API_B, NOT_FOUND), (SUSPENDED_API, SUSPENDED)))


def fhir_search(post: Cells) -> Row:
    """`POST [type]/_search` (form body): the search's cells; the other methods are not allowed."""
    m405 = cells(METHOD_NOT_ALLOWED)
    return {"GET": m405, "POST": post, "PUT": m405, "DELETE": m405}


def fhir_private(get: Cells, post: Cells | None = None, put: Cells | None = None) -> Row:
    return fhir(get, post, put)


def private(a: str, b: str) -> Cells:
    """Appointment/Patient: a token is needed (browser sessions do not count); client A gets `a`,
    client B `b`."""
    return cells(UNAUTHORIZED, (API_A, a), (API_B, b), (SUSPENDED_API, SUSPENDED))


# --- Django admin: operators only ---------------------------------------------------------------------
# Each registered model, with the operator's outcome where it is not the default (OK; the unnamed
# `<id>/` redirect answers REDIRECT): read-only admins refuse add/change/delete with 403; a model with no
# row in the world answers its object pages with a redirect to the admin index.
READ_ONLY = {"add": FORBIDDEN, "delete": FORBIDDEN, "change POST": FORBIDDEN}
NO_ADD = {"add": FORBIDDEN}
NO_ROW = {"history": REDIRECT, "delete": REDIRECT, "change": REDIRECT}
ADMIN_MODELS: dict[str, dict[str, str]] = {
    "auth_group": NO_ROW,
    "accounts_user": NO_ADD,
    "accounts_membership": {},
    "directory_specialty": {},
    "directory_organization": {},
    "directory_site": {},
    "directory_practitioner": {},
    "scheduling_motif": {},
    "scheduling_openingrule": {},
    "scheduling_absence": {},
    "scheduling_availabilityindex": {"add": FORBIDDEN, "change POST": FORBIDDEN},
    "patients_patient": READ_ONLY,
    "booking_appointment": READ_ONLY,
    "audit_auditevent": READ_ONLY,
    "audit_detectionalert": {**NO_ROW, **NO_ADD, "delete": FORBIDDEN},
    "audit_suspendedprincipal": {},
    "incidents_incident": {**NO_ROW, **NO_ADD},
    "django_tasks_database_dbtaskresult": READ_ONLY,  # the world's bookings wrote delivery tasks
    "notifications_outboundmessage": {"add": FORBIDDEN, "change POST": REDIRECT},
    "oauth2_provider_application": {},
    "oauth2_provider_accesstoken": {"add": FORBIDDEN, "delete": FORBIDDEN},
    "oauth2_provider_grant": {**NO_ROW, **NO_ADD},
    "oauth2_provider_idtoken": {**NO_ROW, **NO_ADD},
    "oauth2_provider_refreshtoken": {**NO_ROW, **NO_ADD, "delete": FORBIDDEN},
    "fhir_apigrant": READ_ONLY,
}


def admin_page(operator: str = OK, **overrides: str) -> Row:
    """Anyone but an operator is sent to the admin's sign-in page (staff of a practice included)."""
    get = cells(LOGIN, (OPERATOR, overrides.get("GET", operator)))
    post = cells(LOGIN, (OPERATOR, overrides.get("POST", operator)))
    return {"GET": get, "POST": post}


def admin_rows() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for model, special in ADMIN_MODELS.items():
        app_model = model
        for page in ("changelist", "add", "history", "delete", "change"):
            get = special.get(f"{page} GET", special.get(page, OK))
            post = special.get(f"{page} POST", special.get(page, OK))
            rows[f"admin:{app_model}_{page}"] = admin_page(GET=get, POST=post)
        app_label, _sep, name = _split_model(model)
        rows[f"admin/{app_label}/{name}/<path:object_id>/"] = admin_page(REDIRECT)
    return rows


def _split_model(model: str) -> tuple[str, str, str]:
    for app_label in ("django_tasks_database", "oauth2_provider"):
        if model.startswith(app_label + "_"):
            return app_label, "_", model.removeprefix(app_label + "_")
    return model.partition("_")


# --- the table ----------------------------------------------------------------------------------------
TABLE: dict[str, Row] = {
    # Probes and language switch: public.
    "healthz": {"GET": everyone(OK), "POST": everyone(METHOD_NOT_ALLOWED)},
    "readyz": {"GET": everyone(OK), "POST": everyone(METHOD_NOT_ALLOWED)},
    # Prometheus: its own bearer token (none of the personas holds it), a 404 for everyone else.
    "metrics": {"GET": everyone(NOT_FOUND), "POST": everyone(METHOD_NOT_ALLOWED)},
    "set_language": {"GET": everyone(REDIRECT), "POST": everyone(REDIRECT)},
    # --- FHIR API (bearer tokens only: a browser session is anonymous there) ---
    "fhir:metadata": fhir(cells(OK, (SUSPENDED_API, SUSPENDED))),
    "fhir:openapi": fhir(everyone(OK)),  # public documents, read-only
    "fhir:smart-configuration": fhir(everyone(OK)),
    "fhir:token": {
        "GET": everyone(METHOD_NOT_ALLOWED),
        "POST": everyone(INVALID),  # no client credentials in the body
        "PUT": everyone(METHOD_NOT_ALLOWED),
        "DELETE": everyone(METHOD_NOT_ALLOWED),
    },
    **{f"fhir:{t}-type": fhir_public_type() for t in aw.PUBLIC_FHIR_TYPES},
    **{f"fhir:{t}-instance": fhir_public_instance() for t in aw.PUBLIC_FHIR_TYPES},
    **{f"fhir:{t}-search": fhir_search(cells(OK, (SUSPENDED_API, SUSPENDED))) for t in aw.PUBLIC_FHIR_TYPES},
    "fhir:Appointment-search": fhir_search(private(OK, OK)),
    "fhir:Patient-search": fhir_search(private(OK, OK)),
    "fhir:Appointment-type": fhir(
        private(OK, OK),  # search: B's bundle is empty
        post=private(OK, NOT_FOUND),  # booking A's slot for A's patient
        put=private(INVALID, INVALID),  # a conditional update without its identifier condition
    ),
    "fhir:Appointment-instance": fhir(private(OK, NOT_FOUND), put=private(OK, NOT_FOUND)),
    # IHE ITI Scheduling: $find proposes (B's bundle is empty); $hold and $book A's slot for A's patient.
    "fhir:Appointment-find": fhir(private(OK, OK), post=private(OK, OK)),
    "fhir:Appointment-hold": fhir(cells(METHOD_NOT_ALLOWED), post=private(OK, NOT_FOUND)),
    "fhir:Appointment-book": fhir(cells(METHOD_NOT_ALLOWED), post=private(OK, NOT_FOUND)),
    "fhir:Patient-type": fhir(private(OK, OK), post=private(OK, NOT_FOUND)),
    "fhir:Patient-instance": fhir(private(OK, NOT_FOUND)),
    # Subscriptions: a client lists, reads and deletes only its own (B: an empty bundle, a 404); A
    # subscribes to its agenda X, B is refused (403, nothing stored): agenda X is not in its grants.
    "fhir:Subscription-type": fhir(private(OK, OK), post=private(OK, FORBIDDEN)),
    "fhir:Subscription-search": fhir_search(private(OK, OK)),
    "fhir:Subscription-instance": fhir(private(OK, NOT_FOUND), put=private(OK, NOT_FOUND))
    | {"DELETE": private(OK, NOT_FOUND)},
    "fhir:unknown": fhir(
        cells(NOT_FOUND),
        post=cells(NOT_FOUND),
        put=cells(NOT_FOUND),
    )
    | {"DELETE": cells(NOT_FOUND)},
    # --- practices' API access pages (organization admins) ---
    "fhir_web:organizations": {
        # The list of organizations the user administers: empty for everyone but A's admin, who is
        # taken straight to A's grants.
        "GET": signed_in(OK, (ADMIN_A, REDIRECT)),
        "POST": signed_in(OK, (ADMIN_A, REDIRECT)),
    },
    "fhir_web:grants": {"GET": signed_in(NOT_FOUND, (ADMIN_A, OK)), "POST": signed_in(NOT_FOUND, (ADMIN_A, OK))},
    "fhir_web:revoke": {"GET": not_allowed_signed_in(), "POST": signed_in(NOT_FOUND, (ADMIN_A, REDIRECT))},
    # --- accounts ---
    "accounts:login": {"GET": signed_in(REDIRECT, (NO_SESSION, OK)), "POST": signed_in(REDIRECT, (NO_SESSION, OK))},
    "accounts:logout": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": everyone(REDIRECT)},
    "accounts:signup": {"GET": signed_in(REDIRECT, (NO_SESSION, OK)), "POST": signed_in(REDIRECT, (NO_SESSION, OK))},
    "accounts:verify": {"GET": everyone(INVALID), "POST": everyone(INVALID)},  # a forged link
    "accounts:signout_everywhere": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "accounts:mfa_verify": {"GET": signed_in(REDIRECT), "POST": signed_in(REDIRECT)},  # already verified
    "accounts:mfa_setup": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "accounts:mfa_manage": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "accounts:mfa_recovery_codes": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": signed_in(OK)},
    "accounts:mfa_disable": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": signed_in(REDIRECT)},
    "accounts:reauth": {"GET": signed_in(OK), "POST": signed_in(OK)},
    # Passkeys: the holder's own list; ceremonies answer JSON (403 without a session, 400 for an
    # answer that is not a credential); another account's passkey is a 404 like a missing one.
    "accounts:passkeys": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "accounts:passkey_register_options": {
        "GET": everyone(METHOD_NOT_ALLOWED),
        "POST": cells(OK, (NO_SESSION, FORBIDDEN)),
    },
    "accounts:passkey_register": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": cells(INVALID, (NO_SESSION, FORBIDDEN))},
    "accounts:passkey_remove": {
        "GET": everyone(METHOD_NOT_ALLOWED),
        "POST": signed_in(NOT_FOUND, (PATIENT, REDIRECT)),  # the patient removes their own passkey
    },
    "accounts:passkey_check_options": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": cells(OK, (NO_SESSION, FORBIDDEN))},
    "accounts:passkey_check": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": cells(INVALID, (NO_SESSION, FORBIDDEN))},
    "accounts:passkey_login_options": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": everyone(OK)},
    "accounts:passkey_login": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": everyone(INVALID)},
    "accounts:password_reset": {"GET": everyone(OK), "POST": everyone(OK)},
    "accounts:password_reset_done": {"GET": everyone(OK), "POST": everyone(METHOD_NOT_ALLOWED)},
    "accounts:password_reset_confirm": {"GET": everyone(OK), "POST": everyone(OK)},  # invalid link page
    "accounts:password_reset_complete": {"GET": everyone(OK), "POST": everyone(METHOD_NOT_ALLOWED)},
    "accounts:password_change": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "accounts:password_change_done": {"GET": signed_in(OK), "POST": signed_in(METHOD_NOT_ALLOWED)},
    # --- a patient's account: any signed-in user has one (staff too); objects only for their owner ---
    "notifications:messages": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "notifications:waitlist": {"GET": signed_in(OK), "POST": owners(REDIRECT)},  # leave one's own list
    "notifications:waitlist_join": {"GET": not_allowed_signed_in(), "POST": owners(REDIRECT)},
    "notifications:offer": {"GET": owners(OK), "POST": owners(REDIRECT)},  # decline one's own offer
    "privacy:journal": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "web:my_data": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "web:data_export": {"GET": owners(OK), "POST": owners(OK)},
    # Erasing an account: patients only; a practice member's or an operator's account is not erased
    # from the patient page (403).
    "web:account_erase": {"GET": signed_in(OK), "POST": signed_in(REDIRECT, (STAFF, FORBIDDEN), (OPERATOR, FORBIDDEN))},
    # --- bulk exports: organization admins ---
    "exports:list": {"GET": signed_in(NOT_FOUND, (ADMIN_A, OK)), "POST": signed_in(NOT_FOUND, (ADMIN_A, INVALID))},
    "exports:decide": {"GET": not_allowed_signed_in(), "POST": signed_in(NOT_FOUND, (ADMIN_A, REDIRECT))},
    # Not approved yet: a 409 for A's admin (past the access check).
    "exports:download": {
        "GET": signed_in(NOT_FOUND, (ADMIN_A, CONFLICT)),
        "POST": signed_in(NOT_FOUND, (ADMIN_A, CONFLICT)),
    },
    # --- public pages and booking ---
    "web:home": {"GET": everyone(OK), "POST": everyone(OK)},
    "web:login": {"GET": everyone(LOGIN), "POST": everyone(LOGIN)},
    "web:suggest_places": {"GET": everyone(OK), "POST": everyone(OK)},
    "web:suggest_what": {"GET": everyone(OK), "POST": everyone(OK)},
    "web:practitioner": {"GET": everyone(OK), "POST": everyone(OK)},
    # The practitioner's public photo: Dr One has none (404 for everyone); read-only.
    "web:practitioner_photo": {"GET": everyone(NOT_FOUND), "POST": everyone(METHOD_NOT_ALLOWED)},
    "web:book_start": {"GET": everyone(OK), "POST": everyone(OK)},
    # Holding a slot: without a session, sign in first (the slot is kept); the patient and the relative's
    # account already hold two slots each in the world, so a third is refused (422) past every check.
    "web:book_hold": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": signed_in(REDIRECT, (OWNERS, INVALID))},
    "web:book_resume": {"GET": signed_in(REDIRECT), "POST": signed_in(REDIRECT)},
    "web:book_details": {"GET": owners(OK), "POST": owners(OK)},  # an empty form shown again
    "web:book_release": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": owners(REDIRECT)},
    "web:book_done": {"GET": owners(OK), "POST": owners(OK)},
    "web:appointment_ics": {"GET": owners(OK), "POST": owners(OK)},
    "web:account": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "web:account_appointment": {"GET": owners(OK), "POST": owners(OK)},
    "web:account_cancel": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": owners(REDIRECT)},
    "web:account_move": {"GET": owners(OK), "POST": owners(INVALID)},  # no time chosen
    "web:relative_add": {"GET": signed_in(OK), "POST": signed_in(INVALID)},
    "web:profile": {"GET": signed_in(OK), "POST": signed_in(INVALID)},
    # Staff accounts have no phone on their (empty) patient record: sent to the profile first.
    "web:phone_verify": {
        "GET": signed_in(REDIRECT, (PATIENTS, OK)),
        "POST": signed_in(REDIRECT, (PATIENTS, INVALID)),
    },
    # --- practice pages: agenda X (Dr One at A) ---
    "web:staff_home": {
        "GET": signed_in(NOT_FOUND, (STAFF, OK)),
        "POST": signed_in(NOT_FOUND, (STAFF, OK)),
    },
    "web:staff_agenda": {"GET": staff_on_x(OK), "POST": staff_on_x(OK)},
    "web:staff_book": {"GET": staff_on_x(OK), "POST": staff_on_x(REDIRECT)},  # books for the patient
    "web:staff_appointment": {"GET": staff_on_x(OK), "POST": staff_on_x(REDIRECT)},  # cancels it
    # A patient known to A: any member of A sees the file (appointments only of the agendas they see).
    # Any member of A writes a note there (kept for A only).
    "web:staff_patient": {
        "GET": signed_in(NOT_FOUND, ((SEC_A, SEC_A_NO, DOC_OWN, DOC_COLLEAGUE, ADMIN_A), OK)),
        "POST": signed_in(NOT_FOUND, ((SEC_A, SEC_A_NO, DOC_OWN, DOC_COLLEAGUE, ADMIN_A), REDIRECT)),
    },
    # Patient search of the user's organizations (POST: the criteria never reach a URL); a name is
    # searched, B's staff find nothing of A's.
    # Counts over the agendas the user may see (no personal data); non-staff get a 404.
    "web:staff_statistics": {"GET": signed_in(NOT_FOUND, (STAFF, OK)), "POST": signed_in(NOT_FOUND, (STAFF, OK))},
    "web:staff_statistics_csv": {"GET": signed_in(NOT_FOUND, (STAFF, OK)), "POST": signed_in(NOT_FOUND, (STAFF, OK))},
    "web:staff_patients": {
        "GET": signed_in(NOT_FOUND, (STAFF, OK)),
        "POST": signed_in(NOT_FOUND, (STAFF, OK)),
    },
    "web:staff_move": {"GET": staff_on_x(OK), "POST": staff_on_x(INVALID)},  # no time chosen
    # A's day, a column per agenda the user may see (the secretary without rights on X sees A's other
    # agenda); 404 for anyone who sees none of A's agendas.
    "web:staff_group_day": {
        "GET": signed_in(NOT_FOUND, ((SEC_A, SEC_A_NO, DOC_OWN, DOC_COLLEAGUE, ADMIN_A), OK)),
        "POST": signed_in(NOT_FOUND, ((SEC_A, SEC_A_NO, DOC_OWN, DOC_COLLEAGUE, ADMIN_A), OK)),
    },
    "web:staff_settings": {"GET": staff_on_x(OK), "POST": staff_on_x(REDIRECT)},  # deletes X's Monday hours
    "web:staff_motif": {"GET": staff_on_x(OK), "POST": staff_on_x(REDIRECT)},  # renames X's visit reason
    # X's practitioner's practice profile (fees) and photo (removes it): the right to manage X.
    "web:staff_profile": {"GET": staff_on_x(OK), "POST": staff_on_x(REDIRECT)},
    "web:staff_photo": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": staff_on_x(REDIRECT)},
    # --- team management: A's admin (the secretary's membership, a pending invitation) ---
    "web:team": {"GET": signed_in(NOT_FOUND, (ADMIN_A, OK)), "POST": signed_in(NOT_FOUND, (ADMIN_A, OK))},
    "web:team_invite": {
        "GET": signed_in(NOT_FOUND, (ADMIN_A, OK)),
        "POST": signed_in(NOT_FOUND, (ADMIN_A, INVALID)),  # no address given
    },
    "web:team_member": {
        "GET": signed_in(NOT_FOUND, (ADMIN_A, OK)),
        "POST": signed_in(NOT_FOUND, (ADMIN_A, REDIRECT)),  # takes the secretary's rights on X away
    },
    "web:team_remove": {
        "GET": signed_in(NOT_FOUND, (ADMIN_A, OK)),
        "POST": signed_in(NOT_FOUND, (ADMIN_A, REDIRECT)),  # removes the secretary
    },
    "web:team_revoke": {"GET": not_allowed_signed_in(), "POST": signed_in(NOT_FOUND, (ADMIN_A, REDIRECT))},
    # The account's calendar subscription link (made on POST, shown once) and the feed it opens: a
    # made-up token is a 404 for everyone.
    "web:calendar_feed": {"GET": signed_in(OK), "POST": signed_in(OK)},
    "web:calendar_feed_ics": {"GET": everyone(NOT_FOUND), "POST": everyone(NOT_FOUND)},
    # Agenda X's calendar link: staff who manage X make one (POST), others a 404 like a made-up agenda;
    # the feed's made-up token is a 404 for everyone.
    "web:staff_agenda_feed": {"GET": staff_on_x(OK), "POST": staff_on_x(OK)},
    "web:agenda_feed_ics": {"GET": everyone(NOT_FOUND), "POST": everyone(NOT_FOUND)},
    # A's admin requires passkeys for A's staff (nothing sent: requires it, audited).
    "web:team_passkeys": {"GET": everyone(METHOD_NOT_ALLOWED), "POST": signed_in(NOT_FOUND, (ADMIN_A, REDIRECT))},
    "web:team_invitation": {"GET": everyone(NOT_FOUND), "POST": everyone(NOT_FOUND)},  # a forged link
    # --- Django admin ---
    "admin:index": admin_page(),
    "admin:login": {"GET": cells(OK, (OPERATOR, REDIRECT)), "POST": cells(OK)},
    "admin:logout": {"GET": cells(REDIRECT, (OPERATOR, METHOD_NOT_ALLOWED)), "POST": cells(REDIRECT, (OPERATOR, OK))},
    "admin:password_change": admin_page(),
    "admin:password_change_done": admin_page(POST=METHOD_NOT_ALLOWED),
    "admin:autocomplete": admin_page(GET=FORBIDDEN, POST=METHOD_NOT_ALLOWED),  # no field named
    "admin:jsi18n": admin_page(POST=METHOD_NOT_ALLOWED),
    "admin:view_on_site": admin_page(NOT_FOUND),  # organizations have no public page
    "admin:app_list": admin_page(),
    "admin/(?P<url>.*)$": admin_page(NOT_FOUND),
    **admin_rows(),
}


# Cells where main deviates from the table and the fix is not small: (route, method, persona) -> (what
# main answers, why). Strict: a listed cell that starts answering as the table says fails the test.
KNOWN_GAPS: dict[tuple[str, str, str], tuple[str, str]] = {}


# --- requests -------------------------------------------------------------------------------------------


def query_for(world: w.World, route: aw.Route) -> dict[str, str]:
    """Query strings some pages need to get as far as their checks (the slot being booked)."""
    stamp = w.SLOT_START.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
    slot = {"motif": str(world.motif_x.pk), "site": str(world.site_a.pk), "start": stamp}
    if route.key == "web:staff_book":
        return slot
    if route.key in ("web:book_start", "web:book_hold"):
        return {**slot, "practitioner": str(world.agenda_x.practitioner_id)}
    if route.key in ("fhir:Slot-type", "fhir:Slot-search"):
        return {"schedule": aw.fhir_ids(world)["Schedule"]}
    if route.key in ("fhir:Patient-type", "fhir:Patient-search"):
        return {"phone": world.patient.phone}
    if route.key == "fhir:Appointment-find":
        day = w.SLOT_START.astimezone(dt.UTC).date().isoformat()
        return {"start": day, "end": day}
    return {}


def form_for(world: w.World, persona: str, route: aw.Route) -> dict[str, Any]:
    """The write a POST attempts: a real one wherever the page changes something."""
    offer = world.relative_offer if persona == RELATIVE else world.offer
    appointment = world.relative_appointment if persona == RELATIVE else world.appointment
    forms: dict[str, dict[str, Any]] = {
        "web:staff_settings": {"action": "rule_delete", "rule": str(world.rule_x.pk)},
        "web:staff_appointment": {"action": "cancel"},
        "web:staff_patient": {"action": "note", "text": "Préfère le matin."},
        "web:staff_patients": {"name": "Patiente"},
        "web:staff_book": {"action": "book", "patient": str(world.patient.pk), **query_for(world, route)},
        "web:staff_motif": {
            "name": "Renommé",
            "duration_minutes": 30,
            "buffer_minutes": 0,
            "audience": "all",
            "channel": "in_person",
            "min_notice_minutes": 0,
            "max_horizon_days": 90,
            "bookable_online": "on",
        },
        "web:staff_profile": {"action": "doc", "convention_sector": "1", "fees": "30 €"},
        "web:staff_photo": {"action": "remove"},
        "web:book_hold": query_for(world, route),
        "notifications:waitlist": {"entry": str(offer.entry_id)},
        "notifications:waitlist_join": {"appointment_id": str(appointment.pk)},
        "notifications:offer": {"action": "decline"},
        "exports:decide": {"decision": "reject"},
        "web:team_member": {"action": "rights"},
        "web:account_erase": {"confirm": "yes"},
    }
    return forms.get(route.key, {})


def fhir_body(world: w.World, route: aw.Route, values: dict[str, str]) -> str:
    if route.key == "fhir:Appointment-type":
        slot = aw.fhir_ids(world)["Slot"]
        body: dict[str, Any] = {
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{"reference": f"Slot/{slot}"}],
            "participant": [{"actor": {"reference": f"Patient/{world.patient.pk}"}, "status": "accepted"}],
        }
    elif route.key == "fhir:Appointment-find":
        day = w.SLOT_START.astimezone(dt.UTC).date().isoformat()
        body = {
            "resourceType": "Parameters",
            "parameter": [{"name": "start", "valueDate": day}, {"name": "end", "valueDate": day}],
        }
    elif route.key in ("fhir:Appointment-hold", "fhir:Appointment-book"):
        slot = aw.fhir_ids(world)["Slot"]
        appointment = {
            "resourceType": "Appointment",
            "status": "proposed",
            "slot": [{"reference": f"Slot/{slot}"}],
            "participant": [{"actor": {"reference": f"Patient/{world.patient.pk}"}, "status": "accepted"}],
        }
        body = {"resourceType": "Parameters", "parameter": [{"name": "appt-resource", "resource": appointment}]}
    elif route.key == "fhir:Patient-type":
        body = {
            "resourceType": "Patient",
            "name": [{"family": "Durand", "given": ["Léa"]}],
            "birthDate": "1990-04-02",
            "managingOrganization": {"reference": f"Organization/{world.org_a.pk}"},
        }
    elif route.key == "fhir:Subscription-type":
        body = {
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "Sync",
            "criteria": f"Appointment?actor=Practitioner/{world.agenda_x.practitioner_id}",
            "channel": {"type": "rest-hook", "endpoint": "https://partner.example/hook"},
        }
    elif route.key == "fhir:Subscription-instance":
        body = {
            "resourceType": "Subscription",
            "id": values.get("rid", ""),
            "status": "off",
            "reason": "Sync",
            "criteria": f"Appointment?actor=Practitioner/{world.agenda_x.practitioner_id}",
            "channel": {"type": "rest-hook", "endpoint": "https://partner.example/hook"},
        }
    elif route.key == "fhir:Appointment-instance":
        body = {
            "resourceType": "Appointment",
            "id": values.get("rid", ""),
            "status": "cancelled",
            "participant": [{"actor": {"reference": f"Patient/{world.patient.pk}"}, "status": "accepted"}],
        }
    else:
        body = {"resourceType": "Bundle"}
    return json.dumps(body)


def is_fhir(route: aw.Route) -> bool:
    return route.route.startswith("fhir/")


def send(world: w.World, persona: str, route: aw.Route, method: str, values: dict[str, str]) -> Any:
    client: Client = world.client(persona)
    path = aw.path_for(route, values)
    query = query_for(world, route)
    if method == "GET":
        return client.get(path, query)
    if is_fhir(route) and route.key.endswith("-search") and method == "POST":
        return client.post(path, urlencode(query), content_type="application/x-www-form-urlencoded")
    if is_fhir(route):
        body = fhir_body(world, route, values)
        if method == "POST":
            return client.post(path, body, content_type=FHIR)
        if method == "PUT":
            return client.put(path, body, content_type=FHIR)
        return client.delete(path)
    if query and route.key != "web:book_hold":
        path = f"{path}?{'&'.join(f'{k}={v}' for k, v in query.items())}"
    return client.post(path, form_for(world, persona, route))


def methods_of(route: aw.Route) -> tuple[str, ...]:
    return ("GET", "POST", "PUT", "DELETE") if is_fhir(route) else ("GET", "POST")


# Tables a refused request may write to: the audit trail (its denied / not-found event, the records it
# read, the detection window) and the session store (the staff idle clock, the second-factor flags).
SIDE_TABLES = {"django_session"}
SIDE_PREFIXES = ("audit_",)


def domain_tables(tables: set[str]) -> set[str]:
    return {t for t in tables if t not in SIDE_TABLES and not t.startswith(SIDE_PREFIXES)}


def run_cell(
    world: w.World, persona: str, route: aw.Route, method: str, values: dict[str, str]
) -> tuple[str, Any, set[str]]:
    cache.clear()  # rate-limit counters: every cell starts fresh
    with transaction.atomic():
        # Reads are not searched for writes (and not recorded: the walk is faster).
        connection.queries_log.clear()  # a full log (9000 queries) would shift the captured slice
        capture = CaptureQueriesContext(connection) if method != "GET" else contextlib.nullcontext()
        with capture as ctx:
            try:
                response = send(world, persona, route, method, values)
                got = aw.classify(response)
            except Exception as exc:  # a 500: reported as such, the walk goes on
                response, got = None, f"ERROR {type(exc).__name__}"
        tables = domain_tables(aw.written_tables(ctx.captured_queries)) if ctx is not None else set()
        transaction.set_rollback(True)
    return got, response, tables


# --- tests ----------------------------------------------------------------------------------------------


def _keys() -> list[str]:
    keys = [r.key for r in aw.routes()]
    return keys


def test_every_route_of_the_url_configuration_has_a_row() -> None:
    keys = _keys()
    missing = [k for k in keys if k not in TABLE]
    assert not missing, f"routes with no row in the authorization matrix: {missing}"
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicated, f"two URL patterns share these names: {duplicated}"


def test_every_row_names_a_route_that_exists() -> None:
    stale = sorted(set(TABLE) - set(_keys()))
    assert not stale, f"rows of the authorization matrix for routes that no longer exist: {stale}"


def test_every_row_gives_an_outcome_for_every_persona_and_method() -> None:
    by_key = {r.key: r for r in aw.routes()}
    for key, row in TABLE.items():
        route = by_key.get(key)
        if route is None:
            continue
        assert set(row) == set(methods_of(route)), f"{key}: methods {sorted(row)}"
        for method, outcomes in row.items():
            assert set(outcomes) == set(PERSONAS), f"{key} {method}"
            assert set(outcomes.values()) <= aw.VOCABULARY, f"{key} {method}: {outcomes}"


@override_settings(CRENEAU_MFA_ENFORCED=True)
def test_the_authorization_matrix(db: None, monday_morning: None, client: Client) -> None:
    world = w.build(client)
    by_key = {r.key: r for r in aw.routes()}
    failures: list[str] = []
    gaps: list[str] = []
    n = 0
    started = time.monotonic()
    per_route: dict[str, float] = {}
    values_cache: dict[tuple[str, str], dict[str, str]] = {}
    compared_404 = checked_writes = checked_cache = 0
    markers = aw.personal_markers(world)
    assert len(markers) >= 15, markers
    allowed_writes: set[str] = set()  # tables written by allowed writes: proof the capture sees writes
    logging.disable(logging.WARNING)  # thousands of access lines and 4xx warnings: not what is tested
    try:
        for key, row in TABLE.items():
            route = by_key[key]
            route_started = time.monotonic()
            for method, outcomes in row.items():
                for persona in PERSONAS:
                    n += 1
                    expected = outcomes[persona]
                    values = values_cache.setdefault((persona, key), aw.values_for(world, persona, route))
                    got, response, tables = run_cell(world, persona, route, method, values)
                    where = f"{key} {method} as {persona}"
                    leak = aw.cache_exposure(persona, response, markers)
                    checked_cache += response is not None
                    if leak:
                        failures.append(f"{where}: {leak}")
                    gap = KNOWN_GAPS.get((key, method, persona))
                    if gap is not None:
                        if got == expected:
                            failures.append(f"{where}: now answers {got} as the table says; drop it from KNOWN_GAPS")
                        elif got != gap[0]:
                            failures.append(f"{where}: known gap answered {got}, not {gap[0]}")
                        else:
                            gaps.append(f"{where}: {got} instead of {expected} ({gap[1]})")
                        continue
                    if got != expected:
                        failures.append(f"{where}: expected {expected}, got {got}")
                        continue
                    if method != "GET" and expected in aw.REFUSED:
                        checked_writes += 1
                        if tables:
                            failures.append(f"{where}: refused ({got}) but wrote to {sorted(tables)}")
                    elif method != "GET":
                        allowed_writes |= tables
                    if expected == NOT_FOUND and aw.ID_PARAMS & set(route.params):
                        compared_404 += 1
                        missing = aw.missing_values(values, route)
                        got2, response2, _t = run_cell(world, persona, route, method, missing)
                        ids = [values[p] for p in route.params if p in aw.ID_PARAMS]
                        ids += [missing[p] for p in route.params if p in aw.ID_PARAMS]
                        if got2 != NOT_FOUND or aw.normalized(response.content, ids) != aw.normalized(
                            response2.content, ids
                        ):
                            failures.append(f"{where}: a foreign object does not answer like a missing one")
            per_route[key] = time.monotonic() - route_started
    finally:
        logging.disable(logging.NOTSET)
    elapsed = time.monotonic() - started
    print(
        f"\nauthorization matrix: {len(TABLE)} routes × {len(PERSONAS)} personas, {n} cells "
        f"(route × method × persona) in {elapsed:.1f} s; {len(gaps)} known gaps; {compared_404} foreign-object "
        f"404s compared byte for byte with a missing id; {checked_writes} refused writes checked for row changes; "
        f"{checked_cache} answers checked for "
        f"Cache-Control: no-store (every answer to a session or token; no personal datum in a cacheable one)"
    )
    for line in gaps:
        print("  known gap:", line)
    slowest = sorted(per_route.items(), key=lambda kv: -kv[1])[:8]
    print("  slowest routes:", ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
    assert not failures, f"{len(failures)} unexpected outcomes:\n" + "\n".join(failures)
    assert n >= 7000
    # The secretary's deletion of X's hours, the staff cancellation, the patient's own cancellation:
    # the write capture sees writes when there are some.
    assert {"scheduling_openingrule", "booking_appointment"} <= allowed_writes, allowed_writes
    assert compared_404 > 250 and checked_writes > 3000
    assert checked_cache == n, (checked_cache, n)


def test_a_cacheable_answer_to_a_session_or_with_personal_data_is_caught() -> None:
    """The walk's cache check can fail: a signed-in answer without no-store, or an anonymous one showing
    a patient's name, is reported; a marked one, or an anonymous one without personal data, is not."""
    markers = ["Patiente", "alice@example.invalid"]
    plain = HttpResponse(b"<p>Cabinet A</p>")
    assert aw.cache_exposure(PATIENT, plain, markers) is not None
    assert aw.cache_exposure(API_A, plain, markers) is not None
    assert aw.cache_exposure(ANON, plain, markers) is None
    leaky = HttpResponse(b"<p>Mme Patiente</p>")
    assert "Patiente" in (aw.cache_exposure(ANON, leaky, markers) or "")
    marked = HttpResponse(b"<p>Mme Patiente</p>", headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    assert aw.cache_exposure(ANON, marked, markers) is None
    assert aw.cache_exposure(PATIENT, marked, markers) is None
    half = HttpResponse(b"x", headers={"Cache-Control": "no-store"})
    assert aw.cache_exposure(PATIENT, half, markers) is not None


def test_the_outcome_of_a_response_is_read_from_its_status_and_location() -> None:
    class R(dict[str, str]):
        def __init__(self, status: int, **headers: str) -> None:
            super().__init__(headers)
            self.status_code = status

    assert aw.classify(R(302, Location="/accounts/login/?next=/practice/")) == LOGIN
    assert aw.classify(R(302, Location="/en/accounts/login/?next=/practice/")) == LOGIN
    assert aw.classify(R(302, Location="/admin/login/?next=/admin/")) == LOGIN
    assert aw.classify(R(302, Location="/account/")) == REDIRECT
    assert aw.classify(R(403, **{"Creneau-Refusal": "suspended"})) == SUSPENDED
    assert aw.classify(R(403)) == FORBIDDEN
    assert aw.classify(R(201)) == OK
