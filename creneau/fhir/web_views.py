"""Grant management for organization admins: list, grant, revoke. Thin: services do the checks."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from creneau.accounts import reauth
from creneau.accounts.actors import staff_actor
from creneau.core.errors import DomainError, NotFound
from creneau.directory.models import Organization
from creneau.directory.selectors import access_organization_as_admin, organizations_administered

from . import services
from .scopes import GRANTABLE, GRANTABLE_LABELS
from .selectors import access_api_grant, grants_of_organization


class GrantForm(forms.Form):
    client_id = forms.CharField(
        label=gettext_lazy("Client id"), max_length=100, help_text=gettext_lazy("Given to you by the software vendor.")
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Allowed access"),
        choices=[(s, format_lazy("{} ({})", GRANTABLE_LABELS[s], s)) for s in GRANTABLE],
        widget=forms.CheckboxSelectMultiple,
        initial=["system/Slot.rs", "system/Schedule.rs", "system/Appointment.cruds", "system/Patient.crs"],
    )


def _admin_org(request: HttpRequest, organization_id: uuid.UUID) -> Organization:
    """An organization the signed-in user administers; any other answers 404 as a missing one."""
    try:
        return access_organization_as_admin(staff_actor(request, member=False), organization_id)
    except NotFound:
        raise Http404 from None


@login_required
def organizations(request: HttpRequest) -> HttpResponse:
    orgs = organizations_administered(staff_actor(request, member=False))
    if len(orgs) == 1:
        return redirect("fhir_web:grants", organization_id=orgs[0].pk)
    return render(request, "fhir/organizations.html", {"organizations": orgs})


@login_required
def grants(request: HttpRequest, organization_id: uuid.UUID) -> HttpResponse:
    org = _admin_org(request, organization_id)
    if request.method == "POST" and not reauth.recently_authenticated(request):
        # Opening patient data to a software is sensitive: ask for the password again first.
        # (Revoking never asks: it must be instant.)
        return redirect(f"{reverse('accounts:reauth')}?{urlencode({'next': request.get_full_path()})}")
    form = GrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.api_grant_create(
                actor=staff_actor(request, member=False),
                client_id=form.cleaned_data["client_id"],
                organization_id=org.pk,
                scope_list=form.cleaned_data["scopes"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("Access granted."))
            return redirect("fhir_web:grants", organization_id=org.pk)
    return render(
        request,
        "fhir/grants.html",
        {"organization": org, "grants": list(grants_of_organization(org.pk)), "form": form},
    )


@login_required
@require_POST
def revoke(request: HttpRequest, organization_id: uuid.UUID, grant_id: uuid.UUID) -> HttpResponse:
    org = _admin_org(request, organization_id)
    actor = staff_actor(request, member=False)
    try:
        grant = access_api_grant(actor, grant_id, organization_id=org.pk)
        services.api_grant_revoke(actor=actor, grant_id=grant.pk)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("Access revoked. The software can no longer reach your data."))
    return redirect("fhir_web:grants", organization_id=org.pk)
