"""The patient's access journal page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from creneau.accounts.actors import patient_actor
from creneau.incidents.selectors import incidents_affecting_account
from creneau.privacy.selectors import access_journal


@login_required
def journal(request: HttpRequest) -> HttpResponse:
    """Who accessed my data and my relatives' data, and whether an incident touched it."""
    actor = patient_actor(request)
    return render(
        request,
        "privacy/journal.html",
        {"entries": access_journal(actor), "exposures": incidents_affecting_account(actor)},
    )
