"""Bulk export: request (organization admin + fresh second factor), approval by a second admin (also
with a fresh second factor), generation encrypted to the recipient's public key with a per-export
decoy record, download; every step audited, the export's records listed in the audit trail."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from creneau.accounts import mfa
from creneau.accounts.principals import acting_user
from creneau.audit.models import Action
from creneau.audit.services import Touched, audit_record
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind
from creneau.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from creneau.directory.selectors import access_organization_as_admin

from .models import BulkExport, ExportStatus
from .selectors import access_export

DECOY_FAMILY_NAMES = ["Vasseur", "Lemarchand", "Costaz", "Delpierre", "Ravenel", "Quéméner", "Aubrac"]


def _require_admin(actor: Actor, organization_id: uuid.UUID | str) -> uuid.UUID:
    """Staff administering the organization (the system does not export: a person answers for it)."""
    if actor.kind != ActorKind.STAFF:
        raise NotFound(_("Unknown organization."))
    return access_organization_as_admin(actor, organization_id).pk


def _require_step_up(actor: Actor, code: str) -> None:
    if actor.user is None or not mfa.has_mfa(actor.user):
        raise PermissionDenied(_("Set up two-step verification before exporting data."))
    if not mfa.verify(actor.user, code.strip(), source=actor.ip or "", actor=actor):
        raise PermissionDenied(_("The verification code is not valid. Type the current code from your app."))


def _public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as exc:
        raise InvalidInput(_("The recipient key must be an RSA public key in PEM format.")) from exc
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 3072:
        raise InvalidInput(_("The recipient key must be an RSA public key of at least 3072 bits."))
    return key


def export_request(
    *, actor: Actor, organization_id: uuid.UUID | str, reason: str, recipient: str, public_key_pem: str, mfa_code: str
) -> BulkExport:
    org_id = _require_admin(actor, organization_id)
    if not reason.strip() or not recipient.strip():
        raise InvalidInput(_("Give the reason for the export and who receives it."))
    _public_key(public_key_pem)
    _require_step_up(actor, mfa_code)
    user = acting_user(actor)
    assert user is not None  # _require_admin checked it
    with transaction.atomic():
        export = BulkExport.objects.create(
            organization_id=org_id,
            requested_by=user,
            reason=reason.strip()[:200],
            recipient=recipient.strip()[:200],
            recipient_public_key=public_key_pem.strip(),
            marker=secrets.token_hex(8),
        )
        audit_record(
            actor=actor,
            action=Action.EXPORT,
            object_type="bulk_export",
            object_id=export.pk,
            via="export_request",
            touched=[Touched(organization_id=org_id)],
        )
    return export


def export_approve(*, actor: Actor, export_id: uuid.UUID | str, mfa_code: str) -> BulkExport:
    """A second administrator of the organization approves; the file is produced at once."""
    export = access_export(actor, export_id)
    if export.requested_by_id == actor.user.pk:  # type: ignore[union-attr]
        raise PermissionDenied(_("Another administrator of the organization must approve this export."))
    _require_step_up(actor, mfa_code)
    with transaction.atomic():
        if not BulkExport.objects.filter(pk=export.pk, status=ExportStatus.REQUESTED).update(
            status=ExportStatus.READY, approved_by=actor.user, approved_at=clock.now()
        ):
            raise Conflict(_("This export is no longer awaiting approval."))
        export.refresh_from_db()
        _generate(actor, export)
    return export


@transaction.atomic
def export_reject(*, actor: Actor, export_id: uuid.UUID | str) -> BulkExport:
    """Refuse a requested export; its status and the audit row commit together."""
    export = access_export(actor, export_id, for_update=True)
    if export.status != ExportStatus.REQUESTED:
        raise Conflict(_("This export is no longer awaiting approval."))
    BulkExport.objects.filter(pk=export.pk).update(status=ExportStatus.REJECTED, updated_at=clock.now())
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="bulk_export",
        object_id=export.pk,
        via="export_reject",
        touched=[Touched(organization_id=export.organization_id)],
        changes={"status": [ExportStatus.REQUESTED, ExportStatus.REJECTED]},
    )
    export.refresh_from_db()
    return export


def export_dir() -> Path:
    path = Path(settings.CRENEAU_EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _decoy(export: BulkExport) -> dict[str, Any]:
    rng = secrets.SystemRandom()
    return {
        "id": str(uuid.uuid4()),
        "family_name": f"{rng.choice(DECOY_FAMILY_NAMES)}-{export.marker[:4].upper()}",
        "given_name": "Marie",
        "birth_date": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "email": f"m.{export.marker}@canary.creneau.invalid",
        "phone": f"+3363998{int(export.marker[:6], 16) % 10000:04d}",
    }


def _generate(actor: Actor, export: BulkExport) -> None:
    """Build the organization's data as the approver (audited as an export of every record), plant the
    decoy, encrypt to the recipient: AES-256-GCM with a fresh key wrapped by RSA-OAEP-SHA256."""
    from creneau.booking.selectors import appointments_visible_to
    from creneau.patients.models import IDENTITY_FIELDS
    from creneau.patients.selectors import patients_visible_to

    # The approver, narrowed to the exporting organization: its agendas (an admin holds every right on
    # each) and nothing of the other organizations the approver may belong to.
    org = export.organization_id
    scoped = dataclasses.replace(
        actor,
        organization_ids=frozenset({org}),
        admin_of=actor.admin_of & {org},
        org_roles=tuple(r for r in actor.org_roles if r[0] == org),
        agendas=tuple(a for a in actor.agendas if a.organization_id == org),
    )
    patients = list(patients_visible_to(scoped).audited(scoped, action=Action.EXPORT, via="bulk_export"))
    appointments = list(appointments_visible_to(scoped).audited(scoped, action=Action.EXPORT, via="bulk_export"))
    rows = []
    for p in patients:
        row = {f: getattr(p, f) for f in IDENTITY_FIELDS}
        row["birth_date"] = p.birth_date.isoformat()
        rows.append({"id": str(p.pk), **row})
    rows.insert(secrets.randbelow(len(rows) + 1), _decoy(export))
    payload = json.dumps(
        {
            "export": str(export.pk),
            "organization": str(export.organization_id),
            "generated_at": clock.now().isoformat(),
            "patients": rows,
            "appointments": [
                {
                    "id": str(a.pk),
                    "patient": str(a.patient_id),
                    "start": a.start_at.isoformat(),
                    "status": a.status,
                    "practitioner": a.practitioner.display_name,
                    "visit_reason": a.motif.name,
                }
                for a in appointments
            ],
        },
        ensure_ascii=False,
    ).encode()
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    aad = f"creneau-export:{export.pk}".encode()
    wrapped = _public_key(export.recipient_public_key).encrypt(
        key, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    envelope = json.dumps(
        {
            "format": "creneau-export-1",
            "alg": "RSA-OAEP-256+A256GCM",
            "export": str(export.pk),
            "aad": aad.decode(),
            "wrapped_key": base64.b64encode(wrapped).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(AESGCM(key).encrypt(nonce, payload, aad)).decode(),
        }
    ).encode()
    name = f"{export.pk}.json.enc"
    (export_dir() / name).write_bytes(envelope)
    BulkExport.objects.filter(pk=export.pk).update(
        file_name=name,
        sha256=hashlib.sha256(envelope).hexdigest(),
        patient_count=len(patients),
        appointment_count=len(appointments),
    )
    export.refresh_from_db()


def export_download(*, actor: Actor, export_id: uuid.UUID | str) -> tuple[str, bytes]:
    export = access_export(actor, export_id)
    if export.status != ExportStatus.READY or not export.file_name:
        raise Conflict(_("This export is not ready."))
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="bulk_export",
        via="export_download",
        touched=[Touched(organization_id=export.organization_id)],
    )
    return export.file_name, (export_dir() / export.file_name).read_bytes()


def export_trace(leaked_text: str) -> BulkExport | None:
    """Which export did a leaked file come from? Look for any export's decoy marker in it."""
    lowered = leaked_text.lower()
    for export in BulkExport.objects.exclude(file_name=""):
        if export.marker in lowered:
            return export
    return None
