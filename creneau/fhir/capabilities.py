"""What the API offers, in one table: the CapabilityStatement and the OpenAPI document both read it."""

from __future__ import annotations

from typing import TypedDict


class ResourceSpec(TypedDict):
    interactions: list[str]  # read, search-type, create, update
    public: bool  # readable without a token (rate limited)
    search: dict[str, tuple[str, str]]  # name -> (FHIR search type, description)


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
            "name": ("string", "Part of the given or family name"),
        },
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
    },
    "Slot": {
        "interactions": ["read", "search-type"],
        "public": True,
        "search": {
            "schedule": ("reference", "Schedule"),
            "start": ("date", "Start (ge/gt/le/lt/eq prefixes)"),
            "status": ("token", "Only free slots are listed"),
            "specialty": ("token", "Specialty code"),
            "service-type": ("token", "Visit reason (HealthcareService id)"),
        },
    },
    "Appointment": {
        "interactions": ["read", "search-type", "create", "update"],
        "public": False,
        "search": {
            "_id": ("token", "Appointment id"),
            "date": ("date", "Start (prefixes)"),
            "status": ("token", "booked, cancelled, fulfilled, noshow"),
            "practitioner": ("reference", "Practitioner"),
            "patient": ("reference", "Patient"),
            "_lastUpdated": ("date", "Last change (prefixes)"),
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
}
COMMON_SEARCH = {"_count": "Page size (capped by the server)", "_offset": "Index of the first result"}
