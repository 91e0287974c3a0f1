"""Team pages of organization admins (/practice/team/…) and the invitation link (/team/invitation/…).

Thin views over `accounts.team` (writes) and `accounts.selectors` (reads): someone who administers no
organization, or another organization's member or invitation, gets the same 404 as a missing id. A
refused change re-renders the form with the service's message and the status it carries (400, 409,
410, 422); nothing is written."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from creneau.accounts import middleware as session_security
from creneau.accounts import team
from creneau.accounts.actors import staff_actor
from creneau.accounts.models import Membership, Role, User
from creneau.accounts.selectors import (
    access_membership,
    invitation_for_token,
    memberships_of_organization,
    pending_invitations,
    team_agenda_accesses,
)
from creneau.accounts.team import AgendaRights
from creneau.core import ratelimit
from creneau.core.actors import Actor
from creneau.core.errors import DomainError, NotFound
from creneau.directory import services as directory_services
from creneau.directory.models import Agenda, Organization
from creneau.directory.selectors import access_organization_as_admin, organizations_administered

from .common import domain_errors
from .team_forms import AcceptForm, InviteForm, RoleFields, rights_from_post, rights_rows

# Service error codes shown next to a field rather than above the form.
FIELD_OF_CODE = {
    "email": "email",
    "already-member": "email",
    "already-invited": "email",
    "role": "role",
    "role-held": "role",
    "practitioner": "practitioner",
    "practitioner-taken": "practitioner",
}


def _admin(request: HttpRequest) -> Actor:
    """The signed-in admin; anyone administering no organization sees no team page at all (404)."""
    actor = staff_actor(request)
    if not actor.admin_of:
        raise NotFound(_("Page not found."))
    return actor


def _agendas(organization_id: uuid.UUID) -> list[Agenda]:
    return list(
        Agenda.objects.filter(organization_id=organization_id, is_active=True)
        .select_related("practitioner")
        .order_by("practitioner__family_name", "practitioner__given_name")
    )


def _put_error(form: Any, error: DomainError) -> None:
    field = FIELD_OF_CODE.get(error.code)
    form.add_error(field if field in form.fields else None, str(error.message))


def _rights_summary(
    roles: list[Membership], agendas: list[Agenda], grants: dict[uuid.UUID, Any]
) -> list[tuple[Agenda, str]]:
    """(agenda, what the person may do there) for the team list, in the active language: one list for
    all their roles in the organization (the grants are the person's, not one role's)."""
    from creneau.notifications.team import rights_label

    out = []
    for agenda in agendas:
        if any(
            m.role == Role.ORG_ADMIN or (m.role == Role.PRACTITIONER and agenda.practitioner_id == m.practitioner_id)
            for m in roles
        ):
            out.append((agenda, _("every right")))
            continue
        rights = AgendaRights.of(grants.get(agenda.pk))
        if not rights.none:
            out.append((agenda, rights_label(rights.as_dict())))
    return out


@login_required
@domain_errors
def team_home(request: HttpRequest) -> HttpResponse:
    """Each administered organization: its members with their role and rights per agenda, and the
    invitations still waiting (withdrawable). A fixed number of queries per organization."""
    actor = _admin(request)
    sections = []
    for organization in organizations_administered(actor):
        agendas = _agendas(organization.pk)
        grants = team_agenda_accesses(actor, organization.pk)
        people: dict[uuid.UUID, list[Membership]] = {}
        for m in sorted(memberships_of_organization(actor, organization.pk), key=lambda m: (m.user.email, str(m.role))):
            people.setdefault(m.user_id, []).append(m)  # one entry per person, whatever their number of roles
        sections.append(
            {
                "organization": organization,
                "members": [
                    (roles, _rights_summary(roles, agendas, grants.get(user_id, {})), user_id == request.user.pk)
                    for user_id, roles in people.items()
                ],
                "invitations": pending_invitations(actor, organization.pk),
            }
        )
    return render(request, "web/team/home.html", {"sections": sections})


@login_required
@domain_errors
def team_invite(request: HttpRequest, organization_id: str) -> HttpResponse:
    """Invite someone by e-mail with a role and rights per agenda."""
    actor = _admin(request)
    organization = access_organization_as_admin(actor, organization_id)
    agendas = _agendas(organization.pk)
    form = InviteForm(request.POST or None, agendas=agendas, initial={"language": (request.LANGUAGE_CODE or "fr")[:2]})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                team.invitation_create(
                    actor=actor,
                    organization_id=organization.pk,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    practitioner_id=form.cleaned_data.get("practitioner") or None,
                    rights=rights_from_post(request.POST, agendas),
                    language=form.cleaned_data["language"],
                )
            except DomainError as error:
                _put_error(form, error)
                status = error.http_status
            else:
                messages.success(request, _("Invitation sent. The link works once and expires in 7 days."))
                return redirect("web:team")
    posted = rights_from_post(request.POST, agendas) if request.method == "POST" else {}
    current = {a.pk: posted.get(str(a.pk), AgendaRights()) for a in agendas}
    return render(
        request,
        "web/team/invite.html",
        {"organization": organization, "form": form, "rows": rights_rows(agendas, current)},
        status=status,
    )


def _member_context(actor: Actor, membership: Membership, **extra: Any) -> dict[str, Any]:
    agendas = _agendas(membership.organization_id)
    grants = team_agenda_accesses(actor, membership.organization_id).get(membership.user_id, {})
    current = {aid: AgendaRights.of(access) for aid, access in grants.items()}
    own = membership.practitioner_id if membership.role == Role.PRACTITIONER else None
    return {
        "membership": membership,
        "organization": membership.organization,
        "rows": rights_rows(agendas, current, own_practitioner=own),
        "is_admin_member": membership.role == Role.ORG_ADMIN,
        "agendas": agendas,
        **extra,
    }


@login_required
@domain_errors
def team_member(request: HttpRequest, membership_id: str) -> HttpResponse:
    """One member: change the role (form `role`) or the rights per agenda (form `rights`)."""
    actor = _admin(request)
    membership = access_membership(actor, membership_id)
    agendas = _agendas(membership.organization_id)
    action = request.POST.get("action", "")
    role_form = RoleFields(
        request.POST if action == "role" else None,
        agendas=agendas,
        initial={"role": membership.role, "practitioner": membership.practitioner_id or ""},
        prefix="r",
    )
    rights_error: DomainError | None = None
    status = 200
    if request.method == "POST":
        status = 400
        try:
            if action == "role":
                if role_form.is_valid():
                    team.membership_role_change(
                        actor=actor,
                        membership_id=membership.pk,
                        role=role_form.cleaned_data["role"],
                        practitioner_id=role_form.cleaned_data.get("practitioner") or None,
                    )
                    messages.success(
                        request, _("Role saved. The member and the practitioners concerned were told by e-mail.")
                    )
                    return redirect("web:team_member", membership.pk)
            elif action == "rights":
                changes = team.agenda_rights_set(
                    actor=actor, membership_id=membership.pk, rights=rights_from_post(request.POST, agendas)
                )
                if changes:
                    messages.success(
                        request, _("Rights saved. The member and the practitioners concerned were told by e-mail.")
                    )
                else:
                    messages.info(request, _("Nothing changed."))
                return redirect("web:team_member", membership.pk)
            else:
                raise NotFound(_("Page not found."))
        except DomainError as error:
            if action == "role":
                _put_error(role_form, error)
            else:
                rights_error = error
            status = error.http_status
        membership = access_membership(actor, membership.pk)
    return render(
        request,
        "web/team/member.html",
        _member_context(actor, membership, role_form=role_form, rights_error=rights_error),
        status=status,
    )


@login_required
@domain_errors
def team_remove(request: HttpRequest, membership_id: str) -> HttpResponse:
    """Confirm, then take the role away (and with the last role, the rights on the agendas)."""
    actor = _admin(request)
    membership = access_membership(actor, membership_id)
    error: DomainError | None = None
    status = 200
    if request.method == "POST":
        try:
            team.membership_remove(actor=actor, membership_id=membership.pk)
        except DomainError as exc:
            error, status = exc, exc.http_status
        else:
            messages.success(request, _("Member removed. They were told by e-mail."))
            if not staff_actor(request, member=False).admin_of:  # removed themselves as admin
                return redirect("web:home")
            return redirect("web:team")
    return render(
        request,
        "web/team/remove.html",
        {"membership": membership, "organization": membership.organization, "error": error},
        status=status,
    )


@login_required
@require_POST
@domain_errors
def team_revoke(request: HttpRequest, invitation_id: str) -> HttpResponse:
    """Withdraw a waiting invitation: its link stops working at once."""
    actor = _admin(request)
    team.invitation_revoke(actor=actor, invitation_id=invitation_id)
    messages.success(request, _("Invitation withdrawn: its link no longer works."))
    return redirect("web:team")


@never_cache
@domain_errors
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link. Without an account for the address: choose a password, which creates it.
    With one: sign in as it, then confirm. A used, expired or withdrawn link says which (410). Never
    cached: the page shows the invited address, even to someone not signed in."""
    invitation = invitation_for_token(token)
    organization: Organization = invitation.organization
    user = request.user if isinstance(request.user, User) and request.user.is_authenticated else None
    has_account = team.invitation_account_exists(invitation)
    form = AcceptForm(request.POST or None, email=invitation.email) if user is None and not has_account else None
    context: dict[str, Any] = {
        "invitation": invitation,
        "organization": organization,
        "role": invitation.get_role_display(),
        "has_account": has_account,
        "form": form,
        "login_url": f"{reverse('accounts:login')}?{urlencode({'next': request.path})}",
        "wrong_account": user is not None and not user_matches(user, invitation.email),
    }
    if request.method != "POST":
        return render(request, "web/team/accept.html", context)
    if user is not None:
        membership = team.invitation_accept(actor=staff_actor(request, member=False), token=token)
    elif form is not None and form.is_valid():
        membership = team.invitation_accept(
            actor=team.visitor(ip=ratelimit.client_ip(request) or None),
            token=token,
            password=form.cleaned_data["password1"],
        )
        login(request, membership.user, backend="creneau.accounts.throttle.ThrottledModelBackend")
    else:
        return render(request, "web/team/accept.html", context, status=400)
    # The session decided "patient, no second factor needed" before: decide again, so the staff
    # member is sent to the authenticator setup before any other page.
    for key in (session_security.SESSION_STAFF, session_security.SESSION_ENROLLED):
        request.session.pop(key, None)
    messages.success(request, _("Welcome to the team of %(organization)s.") % {"organization": organization.name})
    return redirect("web:staff_home")


def user_matches(user: Any, email: str) -> bool:
    return bool(getattr(user, "email", "").lower() == email.lower())


@require_POST
@login_required
@domain_errors
def team_passkeys(request: HttpRequest, organization_id: str) -> HttpResponse:
    """Require (or stop requiring) passkeys for the organization's staff sign-ins."""
    actor = _admin(request)
    required = request.POST.get("required") == "1"
    if directory_services.organization_passkeys_require(
        actor=actor, organization_id=organization_id, required=required
    ):
        messages.success(
            request,
            _("Members now sign in with a passkey.") if required else _("Passkeys are no longer required."),
        )
    return redirect("web:team")
