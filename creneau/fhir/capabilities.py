"""What the API offers, in one table: the CapabilityStatement and the OpenAPI document both read it."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ResourceSpec(TypedDict):
    interactions: list[str]  # read, search-type, create, update, patch
    public: bool  # readable without a token (rate limited)
    search: dict[str, tuple[str, str]]  # name -> (FHIR search type, description)
    chains: NotRequired[dict[str, str]]  # chained parameter (with its type modifier) -> description
    include: NotRequired[list[str]]  # _include values
    include_iterate: NotRequired[list[str]]  # _include:iterate values
    revinclude: NotRequired[list[str]]  # _revinclude values
    sort: NotRequired[list[str]]  # _sort values (a leading - sorts descending)
    conditional_update: NotRequired[bool]  # PUT [type]?<search> (by identifier)
    operations: NotRequired[dict[str, str]]  # operation name (without $) -> OperationDefinition canonical


# The SAS slot search names up to 25 practitioners in one chained parameter.
MAX_CHAINED_IDENTIFIERS = 25


RESOURCES: dict[str, ResourceSpec] = {
    "Organization": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {"_id": ("token", "Organization id"), "name": ("string", "Part of the name")},
    },
    "Location": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "_id": ("token", "Location id"),
            "organization": ("reference", "Managing organization"),
            "address-city": ("string", "City"),
            "address-postalcode": ("string", "Postcode"),
        },
    },
    "Practitioner": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "_id": ("token", "Practitioner id"),
            "identifier": ("token", "National id: urn:oid:1.2.250.1.71.4.2.1|8<RPPS>"),
            "name": (
                "string",
                "Start of a given or family name, case and accent insensitive; comma-separated values OR",
            ),
        },
        "revinclude": ["PractitionerRole:practitioner"],
    },
    "PractitionerRole": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "_id": ("token", "PractitionerRole id"),
            "practitioner": ("reference", "Practitioner"),
            "organization": ("reference", "Organization"),
            "location": ("reference", "Location"),
            "specialty": ("token", "Specialty code (TRE_R38)"),
        },
    },
    "HealthcareService": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "_id": ("token", "HealthcareService (visit reason) id"),
            "organization": ("reference", "Providing organization"),
            "location": ("reference", "Location"),
            "specialty": ("token", "Specialty code"),
        },
    },
    "Schedule": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "_id": ("token", "Schedule id"),
            "actor": ("reference", "Practitioner or Location"),
            "specialty": ("token", "Specialty code"),
        },
        "include": ["Schedule:actor"],
    },
    "Slot": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "schedule": (
                "reference",
                "Schedule; also chained as schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8<RPPS>"
                " (1 to 25 comma-separated practitioners, the SAS slot search)",
            ),
            "start": ("date", "Start (ge/gt/le/lt/eq prefixes)"),
            "status": ("token", "Only free slots are listed"),
            "specialty": ("token", "Specialty code"),
            "service-type": ("token", "Visit reason (HealthcareService id)"),
            "appointment-type": ("token", "v2-0276: ROUTINE (every listed slot is bookable)"),
        },
        "chains": {
            "schedule.actor:Practitioner.identifier": "National id of the Schedule's practitioner (1 to 25 values)"
        },
        "include": ["Slot:schedule"],
        "include_iterate": ["Schedule:actor"],
        "sort": ["start"],
    },
    "Appointment": {
        "interactions": ["read", "search-type", "create", "update", "patch"],
        "public": False,
        "search": {
            "_id": ("token", "Appointment id"),
            "identifier": ("token", "Identifier a partner gave the appointment (system|value: the SAS technical id)"),
            "date": ("date", "Start (prefixes)"),
            "status": ("token", "booked, cancelled, fulfilled, noshow"),
            "actor": ("reference", "Any participant: Patient, Practitioner, PractitionerRole or Location"),
            "practitioner": ("reference", "Practitioner"),
            "patient": ("reference", "Patient"),
            "location": ("reference", "Location"),
            "_lastUpdated": ("date", "Last change (prefixes)"),
            "_cursor": (
                "special",
                "Paging position given in the next link under _sort=_lastUpdated (stable incremental sync)",
            ),
        },
        "sort": ["date", "-date", "_lastUpdated", "-_lastUpdated"],
        "conditional_update": True,
        # IHE ITI Scheduling (ITI-115, 116, 117): creneau/fhir/views/operations.py.
        "operations": {
            "find": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-find",
            "hold": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-hold",
            "book": "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-book",
        },
    },
    "Patient": {
        "interactions": ["read", "search-type", "create"],
        "public": False,
        "search": {
            "_id": ("token", "Patient id"),
            "family": ("string", "Family name (exact, with birthdate)"),
            "birthdate": ("date", "Date of birth (exact, with family)"),
            "phone": ("token", "Phone number (exact)"),
            "email": ("token", "Email (exact)"),
        },
    },
    # Partners' subscriptions (R4 rest-hook) to the appointments of an agenda or a site they were granted:
    # a client sees only its own; creating one needs system/Appointment.rs (docs/fhir.md, "Subscriptions").
    "Subscription": {
        "interactions": ["read", "search-type", "create", "update", "delete"],
        "public": False,
        "search": {
            "_id": ("token", "Subscription id"),
            "status": ("token", "requested, active, error (paused after failed deliveries), off"),
        },
    },
}
COMMON_SEARCH = {
    "_count": "Page size (capped by the server)",
    "_offset": "Index of the first result",
    "_summary": "count: the total only, no entries",
    "_total": "none, estimate or accurate (the total is always exact)",
    "_elements": "Top-level elements to return (the others are left out, meta.tag SUBSETTED)",
}
