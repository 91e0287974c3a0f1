"""Organization admins' pages for bulk exports."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creneau.accounts.actors import staff_actor
from creneau.core.errors import DomainError, NotFound
from creneau.directory.selectors import organizations_administered
from creneau.exports import services
from creneau.exports.selectors import exports_of_organization

from .common import domain_errors


def _admin_org(request: HttpRequest) -> uuid.UUID:
    """The first organization (by name) the signed-in user administers."""
    administered = organizations_administered(staff_actor(request))
    if not administered:
        raise NotFound(_("Page not found."))
    return administered[0].pk


def _page(request: HttpRequest, org: uuid.UUID, *, error: str = "", status: int = 200) -> HttpResponse:
    actor = staff_actor(request)
    return render(
        request,
        "exports/list.html",
        {"exports": exports_of_organization(actor, org), "error": error, "me": request.user.pk},
        status=status,
    )


@login_required
@domain_errors
def export_list(request: HttpRequest) -> HttpResponse:
    try:
        org = _admin_org(request)
        if request.method == "POST":
            services.export_request(
                actor=staff_actor(request),
                organization_id=org,
                reason=request.POST.get("reason", ""),
                recipient=request.POST.get("recipient", ""),
                public_key_pem=request.POST.get("public_key", ""),
                mfa_code=request.POST.get("code", ""),
            )
            return redirect("exports:list")
        return _page(request, org)
    except NotFound:
        raise
    except DomainError as exc:
        return _page(request, _admin_org(request), error=str(exc.message), status=exc.http_status)


@login_required
@require_POST
@domain_errors
def export_decide(request: HttpRequest, export_id: str) -> HttpResponse:
    actor = staff_actor(request)
    try:
        if request.POST.get("decision") == "approve":
            services.export_approve(actor=actor, export_id=export_id, mfa_code=request.POST.get("code", ""))
        else:
            services.export_reject(actor=actor, export_id=export_id)
    except NotFound:
        raise
    except DomainError as exc:
        return _page(request, _admin_org(request), error=str(exc.message), status=exc.http_status)
    return redirect("exports:list")


@login_required
@domain_errors
def export_download(request: HttpRequest, export_id: str) -> HttpResponse:
    name, data = services.export_download(actor=staff_actor(request), export_id=export_id)
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
