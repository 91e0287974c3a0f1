"""Directory writes that keep agendas in step with who works where."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction

from creneau.core.actors import Actor

from .models import Agenda, Organization, Practitioner, PractitionerPhoto, PractitionerSite, Site


def agendas_ensure(*, links: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> int:
    """Make sure an agenda exists for each (practitioner, organization) pair; returns how many were added.

    Called wherever a practitioner is linked to a site (the operator's admin, demo and bench data), so a
    practitioner's work for an organization always has its agenda."""
    wanted = set(links)
    if not wanted:
        return 0
    have = set(
        Agenda.objects.filter(practitioner_id__in={p for p, _o in wanted}).values_list(
            "practitioner_id", "organization_id"
        )
    )
    new = [Agenda(practitioner_id=p, organization_id=o) for p, o in sorted(wanted - have)]
    Agenda.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def agendas_ensure_for_sites() -> int:
    """An agenda for every practitioner-site link (after bulk loads)."""
    pairs = PractitionerSite.objects.values_list("practitioner_id", "site__organization_id").distinct()
    return agendas_ensure(links=list(pairs))


def organization_passkeys_require(*, actor: Actor, organization_id: uuid.UUID | str, required: bool) -> bool:
    """An organization admin requires (or stops requiring) its staff to sign in with a passkey: each
    member's next sign-in then asks for one, or for adding one. Audited with before and after; nothing
    written when nothing changes. Returns whether it changed."""
    from creneau.audit.models import Action
    from creneau.audit.services import Touched, audit_record

    from .selectors import access_organization_as_admin

    with transaction.atomic():
        organization = access_organization_as_admin(actor, organization_id)
        current = Organization.objects.select_for_update().get(pk=organization.pk)
        if current.require_passkeys == required:
            return False
        current.require_passkeys = required
        current.save(update_fields=["require_passkeys", "updated_at"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="organization",
            object_id=current.pk,
            via="organization_passkeys_require",
            changes={"require_passkeys": [not required, required]},
            touched=[Touched(organization_id=current.pk)],
        )
    return True


# --- practice profile ------------------------------------------------------------------------------

PRACTITIONER_PROFILE_FIELDS = (
    "convention_sector",
    "optam",
    "fees",
    "accepts_carte_vitale",
    "tiers_payant",
    "payment_methods",
)
SITE_PROFILE_FIELDS = ("phone", "wheelchair_access", "floor", "door_code", "transport", "parking")


def _profile_audit(actor: Actor, *, obj: object, organization_id: uuid.UUID, via: str, changes: dict) -> None:
    from creneau.audit.models import Action
    from creneau.audit.services import Touched, audit_record

    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type=type(obj).__name__.lower(),
        object_id=obj.pk,  # type: ignore[attr-defined]
        via=via,
        changes=changes,
        touched=[Touched(organization_id=organization_id)],
    )


def _refuse_unknown(fields: dict, allowed: Iterable[str]) -> None:
    from django.utils.translation import gettext as _

    from creneau.core.errors import InvalidInput

    unknown = set(fields) - set(allowed)
    if unknown:
        raise InvalidInput(_("Unknown fields: %s") % ", ".join(sorted(unknown)))


def practitioner_profile_update(*, actor: Actor, agenda_id: uuid.UUID | str, **fields: object) -> Practitioner:
    """The practitioner's public practice profile (convention sector and OPTAM, fees, Carte Vitale,
    tiers payant, payment methods), by staff who may manage one of the practitioner's agendas. Checked
    first (a bad value changes nothing), audited with before and after in the same transaction."""
    from django.utils.translation import gettext as _

    from creneau.audit.services import changes_between
    from creneau.core.actors import AgendaRight
    from creneau.core.errors import InvalidInput

    from .models import ConventionSector, PaymentMethod
    from .selectors import access_agenda

    _refuse_unknown(fields, PRACTITIONER_PROFILE_FIELDS)
    if "fees" in fields:
        fields["fees"] = str(fields["fees"] or "").strip()
    if "payment_methods" in fields:
        methods = list(dict.fromkeys(str(m) for m in fields["payment_methods"] or []))  # type: ignore[attr-defined]
        if any(m not in PaymentMethod.values for m in methods):
            raise InvalidInput(_("Unknown payment method."))
        fields["payment_methods"] = methods
    if "convention_sector" in fields and fields["convention_sector"] not in ("", *ConventionSector.values):
        raise InvalidInput(_("Unknown convention sector."))
    with transaction.atomic():
        agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
        doc = Practitioner.objects.select_for_update().get(pk=agenda.practitioner_id)
        before = {k: getattr(doc, k) for k in PRACTITIONER_PROFILE_FIELDS}
        for key, value in fields.items():
            setattr(doc, key, value)
        if doc.optam and doc.convention_sector != ConventionSector.SECTOR_2:
            raise InvalidInput(_("OPTAM is an option of sector 2 only."))
        if len(doc.fees) > 300:
            raise InvalidInput(_("The fees have at most 300 characters."))
        changes = changes_between(before, {k: getattr(doc, k) for k in PRACTITIONER_PROFILE_FIELDS})
        if changes:
            doc.save(update_fields=[*fields, "updated_at"])
            _profile_audit(
                actor,
                obj=doc,
                organization_id=agenda.organization_id,
                via="practitioner_profile_update",
                changes=changes,
            )
    return doc


def site_profile_update(
    *, actor: Actor, agenda_id: uuid.UUID | str, site_id: uuid.UUID | str, **fields: object
) -> Site:
    """How to reach and get into a site of the agenda (phone, wheelchair access, floor, door code,
    transport, parking). The phone number is checked with phonenumbers (French by default) and stored
    in E.164; a bad value changes nothing. Audited with before and after (the door code only as changed
    or not)."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from creneau.audit.services import changes_between
    from creneau.core.actors import AgendaRight
    from creneau.core.errors import InvalidInput

    from .selectors import access_agenda, access_agenda_site
    from .validators import normalize_practice_phone

    _refuse_unknown(fields, SITE_PROFILE_FIELDS)
    limits = {"floor": 60, "door_code": 20, "transport": 300, "parking": 300}
    for key, limit in limits.items():
        if key in fields:
            fields[key] = str(fields[key] or "").strip()
            if len(fields[key]) > limit:  # type: ignore[arg-type]
                raise InvalidInput(_("This text is too long (at most %(n)d characters).") % {"n": limit})
    if "phone" in fields:
        try:
            fields["phone"] = normalize_practice_phone(str(fields["phone"] or ""))
        except ValidationError as exc:
            raise InvalidInput(" ".join(exc.messages)) from exc
    with transaction.atomic():
        agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
        site = Site.objects.select_for_update().get(pk=access_agenda_site(agenda, site_id).pk)

        def values() -> dict[str, object]:
            out = {k: getattr(site, k) for k in SITE_PROFILE_FIELDS}
            out["door_code"] = "(set)" if out["door_code"] else ""
            return out

        before = values()
        old_code = site.door_code
        for key, value in fields.items():
            setattr(site, key, value)
        changes = changes_between(before, values())
        if site.door_code != old_code and "door_code" not in changes:
            changes["door_code"] = ["(set)", "(changed)"]
        if changes:
            site.save(update_fields=[*fields, "updated_at"])
            _profile_audit(
                actor, obj=site, organization_id=site.organization_id, via="site_profile_update", changes=changes
            )
    return site


def practitioner_photo_set(*, actor: Actor, agenda_id: uuid.UUID | str, data: bytes) -> PractitionerPhoto:
    """Replace the practitioner's photo: at most CRENEAU_PHOTO_MAX_BYTES, a JPEG, PNG or WebP image by
    its content (directory/images.py; identifying metadata dropped). Anything else changes nothing."""
    from django.conf import settings
    from django.utils.translation import gettext as _

    from creneau.core.actors import AgendaRight
    from creneau.core.errors import InvalidInput

    from .images import NotAnImage, check_image
    from .selectors import access_agenda

    limit = settings.CRENEAU_PHOTO_MAX_BYTES
    if len(data) > limit:
        raise InvalidInput(_("This file is too large: a photo has at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)})
    try:
        image = check_image(data)
    except NotAnImage as exc:
        raise InvalidInput(_("This file is not a JPEG, PNG or WebP image.")) from exc
    with transaction.atomic():
        agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
        doc = Practitioner.objects.select_for_update().get(pk=agenda.practitioner_id)
        photo, created = PractitionerPhoto.objects.update_or_create(
            practitioner=doc,
            defaults={
                "content_type": image.content_type,
                "data": image.data,
                "width": image.width,
                "height": image.height,
            },
        )
        _profile_audit(
            actor,
            obj=doc,
            organization_id=agenda.organization_id,
            via="practitioner_photo_set",
            changes={"photo": ["" if created else "(set)", f"{image.content_type} {image.width}x{image.height}"]},
        )
    return photo


def practitioner_photo_remove(*, actor: Actor, agenda_id: uuid.UUID | str) -> bool:
    """Remove the practitioner's photo (the initials are shown instead); returns whether there was one."""
    from creneau.core.actors import AgendaRight

    from .selectors import access_agenda

    with transaction.atomic():
        agenda = access_agenda(actor, agenda_id, AgendaRight.MANAGE)
        doc = Practitioner.objects.select_for_update().get(pk=agenda.practitioner_id)
        deleted, _rows = PractitionerPhoto.objects.filter(practitioner=doc).delete()
        if deleted:
            _profile_audit(
                actor,
                obj=doc,
                organization_id=agenda.organization_id,
                via="practitioner_photo_remove",
                changes={"photo": ["(set)", ""]},
            )
    return bool(deleted)
