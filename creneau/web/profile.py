"""The practice profile: what patients see about a practitioner and their sites (fees, convention
sector, Carte Vitale, tiers payant, payment methods, phone, access, photo), edited by staff who may
manage the agenda through the directory services, and the public photo."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from creneau.accounts.actors import staff_actor
from creneau.core.actors import AgendaRight
from creneau.core.errors import DomainError, InvalidInput, NotFound
from creneau.core.ids import parse_id
from creneau.directory import services as directory
from creneau.directory.models import PHOTO_TYPES, Agenda, PractitionerPhoto, Site
from creneau.directory.selectors import access_agenda, agenda_sites

from .common import domain_errors
from .forms import PhotoForm, PractitionerProfileForm, SiteProfileForm

SITE_FIELDS = directory.SITE_PROFILE_FIELDS
DOC_FIELDS = directory.PRACTITIONER_PROFILE_FIELDS


@login_required
@domain_errors
def practice_profile(request: HttpRequest, agenda_id: str) -> HttpResponse:
    """Edit the practitioner's public profile and each site's access details (right to manage)."""
    actor = staff_actor(request)
    ag = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    doc = ag.practitioner
    sites = agenda_sites(ag)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    doc_form = PractitionerProfileForm(
        request.POST if action == "doc" else None, initial={k: getattr(doc, k) for k in DOC_FIELDS}
    )
    posted_site = request.POST.get("site", "") if action == "site" else ""
    site_forms = [
        (
            site,
            SiteProfileForm(
                request.POST if posted_site == str(site.pk) else None,
                prefix=f"s{i}",
                initial={**{k: getattr(site, k) for k in SITE_FIELDS}, "phone": site.phone_display},
            ),
        )
        for i, site in enumerate(sites)
    ]
    error: DomainError | None = None
    status = 200
    try:
        if action == "doc":
            if doc_form.is_valid():
                directory.practitioner_profile_update(actor=actor, agenda_id=ag.pk, **doc_form.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect("web:staff_profile", agenda_id=ag.pk)
            status = 400
        elif action == "site":
            form = next((f for s, f in site_forms if str(s.pk) == posted_site), None)
            if form is None:
                raise NotFound(_("Unknown site."))
            if form.is_valid():
                directory.site_profile_update(actor=actor, agenda_id=ag.pk, site_id=posted_site, **form.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect("web:staff_profile", agenda_id=ag.pk)
            status = 400
        elif action:
            raise InvalidInput(_("Unknown action."))
    except DomainError as exc:
        error, status = exc, exc.http_status
    return _render(request, ag, doc_form, site_forms, PhotoForm(), error, status)


def _render(
    request: HttpRequest,
    ag: Agenda,
    doc_form: PractitionerProfileForm,
    site_forms: list[tuple[Site, SiteProfileForm]],
    photo_form: PhotoForm,
    error: DomainError | None,
    status: int,
) -> HttpResponse:
    doc = ag.practitioner
    context = {
        "agenda": ag,
        "doc": doc,
        "doc_form": doc_form,
        "site_forms": site_forms,
        "photo_form": photo_form,
        "photo": PractitionerPhoto.objects.filter(practitioner=doc).only("pk", "updated_at").first(),
        "error": error,
    }
    return render(request, "web/staff/profile.html", context, status=status)


@require_POST
@login_required
@domain_errors
def practice_photo(request: HttpRequest, agenda_id: str) -> HttpResponse:
    """Upload (or remove) the practitioner's photo. A file that is not an image by its content, or
    larger than 5 MB, gets a clear message and changes nothing."""
    actor = staff_actor(request)
    ag = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
    error: DomainError | None = None
    if request.POST.get("action") == "remove":
        directory.practitioner_photo_remove(actor=actor, agenda_id=ag.pk)
        messages.success(request, _("Photo removed."))
        return redirect("web:staff_profile", agenda_id=ag.pk)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["photo"]
        limit = int(settings.CRENEAU_PHOTO_MAX_BYTES)
        try:
            if upload.size > limit:  # refused before the file is read into memory (the service says so too)
                raise InvalidInput(
                    _("This file is too large: a photo has at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)}
                )
            directory.practitioner_photo_set(actor=actor, agenda_id=ag.pk, data=upload.read())
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("Photo saved."))
            return redirect("web:staff_profile", agenda_id=ag.pk)
    status = error.http_status if error else 400
    doc = ag.practitioner
    doc_form = PractitionerProfileForm(initial={k: getattr(doc, k) for k in DOC_FIELDS})
    site_forms = [
        (s, SiteProfileForm(prefix=f"s{i}", initial={k: getattr(s, k) for k in SITE_FIELDS}))
        for i, s in enumerate(agenda_sites(ag))
    ]
    return _render(request, ag, doc_form, site_forms, form, error, status)


@require_GET
@domain_errors
def practitioner_photo(request: HttpRequest, practitioner_id: str) -> HttpResponse:
    """The public photo, with the type its content was found to be, never sniffed, never run."""
    photo = (
        PractitionerPhoto.objects.filter(practitioner_id=parse_id(practitioner_id), practitioner__is_active=True)
        .only("content_type", "data", "updated_at")
        .first()
    )
    if photo is None or photo.content_type not in PHOTO_TYPES:
        raise NotFound(_("No photo."))
    response = HttpResponse(bytes(photo.data), content_type=photo.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = f'inline; filename="photo.{PHOTO_TYPES[photo.content_type]}"'
    response["Cache-Control"] = "public, max-age=3600"
    return response
