"""E-mails about team management, queued in the outbox by the handlers of the accounts app's team
events (`creneau.accounts.events`, listed in `settings.CRENEAU_EVENT_HANDLERS`).

accounts cannot import notifications (it sits below it), so `accounts.team` emits and these handlers,
running inside the emitting transaction, write the outbox rows: a refused or rolled-back change sends
nothing. An invitation goes to the invited address (no account may exist yet); changes of rights go to
the member and to each affected agenda's practitioner, when that practitioner has an account in the
organization."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from django.utils import translation
from django.utils.translation import gettext as _

from creneau.accounts.models import Invitation, Membership, Role, User
from creneau.directory.models import Agenda, Organization

from . import outbox
from .models import Kind, MessageChannel
from .rendering import language_of, page_url, public_url
from .secret_links import INVITATION_DEDUP, SECRET
from .services import recipient_for_user

Rights = Mapping[str, bool]


def role_label(role: str) -> str:
    """The role's name in the active language."""
    return str(Role(role).label) if role in Role.values else role


def rights_label(rights: Rights) -> str:
    """What a member may do on an agenda, in words, in the active language."""
    if not rights.get("view"):
        return _("no access")
    parts = [_("see the agenda")]
    if rights.get("book"):
        parts.append(_("book, move, cancel, mark"))
    if rights.get("manage"):
        parts.append(_("manage visit reasons, hours and absences"))
    if rights.get("force"):
        parts.append(_("force bookings"))
    return ", ".join(parts)


def _queue(kind: Kind, recipient: outbox.Recipient, context: Mapping[str, object], *, dedup: str = "") -> None:
    outbox.queue(
        kind=kind,
        recipient=recipient,
        context=dict(context),
        dedup=dedup or f"{kind}:{recipient.user_id or 'address'}:{uuid.uuid4()}",
        channels=[MessageChannel.EMAIL],
    )


def invitation_url(token: str) -> str:
    """The acceptance page of the token (its fixed path if the web app is not installed)."""
    return page_url("web:team_invitation", token, fallback=f"/team/invitation/{token}/")


def on_invitation_created(*, invitation_id: uuid.UUID) -> None:
    """The invitation e-mail, in the language the admin chose. The stored body holds the link with
    `secret_links.SECRET` for its token; `invitation_secret_link` puts the token in as the message leaves.
    One message per invitation (its id is the dedup key, which is also how the sender finds it)."""
    invitation = Invitation.objects.select_related("organization").get(pk=invitation_id)
    language = language_of(invitation.language)
    with translation.override(language):
        context: dict[str, object] = {
            "organization": invitation.organization.name,
            "role": role_label(invitation.role),
            "link": invitation_url(SECRET),
            "expires": invitation.expires_at,
            "home_url": public_url("/"),
        }
    existing = User.objects.by_email(invitation.email).first()
    recipient = outbox.Recipient(
        user_id=existing.pk if existing is not None else None, email=invitation.email, phone="", language=language
    )
    _queue(
        Kind.TEAM_INVITATION,
        recipient,
        {**context, "account_url": public_url("/")},
        dedup=f"{INVITATION_DEDUP}{invitation.pk}",
    )


def _practitioner_users(
    organization_id: uuid.UUID, practitioner_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[User]]:
    """The accounts of these practitioners in this organization, by practitioner (one query)."""
    out: dict[uuid.UUID, list[User]] = {}
    for m in Membership.objects.filter(
        organization_id=organization_id, role=Role.PRACTITIONER, practitioner_id__in=list(practitioner_ids)
    ).select_related("user"):
        if m.user.is_active and m.practitioner_id is not None:
            out.setdefault(m.practitioner_id, []).append(m.user)
    return out


def on_rights_changed(
    *,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    changes: Sequence[tuple[uuid.UUID, Rights, Rights]],
    tell_member: bool = True,
) -> None:
    """One e-mail to the member listing every agenda whose rights changed (unless `tell_member` is
    False: a role change, whose own e-mail tells them), and one to each of those agendas' practitioners
    about their own agenda (not when the member is that practitioner)."""
    member = User.objects.get(pk=user_id)
    organization = Organization.objects.get(pk=organization_id)
    agendas = {a.pk: a for a in Agenda.objects.filter(pk__in=[c[0] for c in changes]).select_related("practitioner")}
    doctors = _practitioner_users(organization_id, {a.practitioner_id for a in agendas.values()})

    def lines(items: Iterable[tuple[uuid.UUID, Rights, Rights]]) -> str:
        return "\n".join(
            f"- {agendas[aid].practitioner.display_name} : {rights_label(before)} → {rights_label(after)}"
            if translation.get_language() == "fr"
            else f"- {agendas[aid].practitioner.display_name}: {rights_label(before)} → {rights_label(after)}"
            for aid, before, after in items
            if aid in agendas
        )

    to_member = recipient_for_user(member)
    with translation.override(to_member.language):
        member_lines = lines(changes)
    if member_lines and tell_member:
        _queue(
            Kind.TEAM_RIGHTS_CHANGED,
            to_member,
            {"organization": organization.name, "to_member": True, "lines": member_lines},
        )
    for aid, before, after in changes:
        agenda = agendas.get(aid)
        if agenda is None:
            continue
        for doctor in doctors.get(agenda.practitioner_id, []):
            if doctor.pk == member.pk:
                continue
            to_doctor = recipient_for_user(doctor)
            with translation.override(to_doctor.language):
                doctor_lines = lines([(aid, before, after)])
            _queue(
                Kind.TEAM_RIGHTS_CHANGED,
                to_doctor,
                {
                    "organization": organization.name,
                    "to_member": False,
                    "member": member.email,
                    "lines": doctor_lines,
                },
            )


def on_role_changed(*, organization_id: uuid.UUID, user_id: uuid.UUID, before: str, after: str) -> None:
    """Tell the member their role in the organization changed, from what to what."""
    member = User.objects.get(pk=user_id)
    organization = Organization.objects.get(pk=organization_id)
    recipient = recipient_for_user(member)
    with translation.override(recipient.language):
        context = {"organization": organization.name, "before": role_label(before), "after": role_label(after)}
    _queue(Kind.TEAM_ROLE_CHANGED, recipient, context)


def on_member_removed(*, organization_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    """Tell the member they no longer hold this role in the organization."""
    member = User.objects.get(pk=user_id)
    organization = Organization.objects.get(pk=organization_id)
    recipient = recipient_for_user(member)
    with translation.override(recipient.language):
        context = {"organization": organization.name, "role": role_label(role)}
    _queue(Kind.TEAM_MEMBER_REMOVED, recipient, context)
