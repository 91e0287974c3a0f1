"""Account pages for GDPR rights: download my data, erase my account (the use cases are creneau.privacy's)."""

from __future__ import annotations

import json

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from creneau.accounts.actors import patient_actor
from creneau.accounts.reauth import recent_auth_required
from creneau.patients.selectors import patients_of_account
from creneau.privacy.rights import account_erase, patient_data_bundle, patient_data_export

from .common import domain_errors


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    actor = patient_actor(request)
    return render(request, "web/privacy/my_data.html", {"patients": patients_of_account(actor)})


@login_required
@recent_auth_required
@domain_errors
def export(request: HttpRequest, patient_id: str, fmt: str) -> HttpResponse:
    """JSON or FHIR download of one patient's data. The filename carries no personal data."""
    actor = patient_actor(request)
    data = (patient_data_bundle if fmt == "fhir" else patient_data_export)(actor=actor, patient_id=patient_id)
    content_type = "application/fhir+json" if fmt == "fhir" else "application/json"
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="creneau-data-{fmt}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@recent_auth_required
@require_http_methods(["GET", "POST"])
@domain_errors
def erase(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            return render(request, "web/privacy/erase.html", {"error": True}, status=400)
        account_erase(actor=patient_actor(request))
        logout(request)
        return redirect("web:home")
    return render(request, "web/privacy/erase.html", {})
