"""Bulk export at the end of a contract: two administrators with fresh codes, a file only the
recipient can read, every record audited, and a marker that names the export if the file leaks."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pyotp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.test import Client
from django.utils import translation
from pytest_django.fixtures import Settings

from creneau.accounts.mfa import MFADevice
from creneau.accounts.models import Role
from creneau.audit.models import AuditAccess, AuditEvent, DetectionAlert
from creneau.core import clock
from creneau.core.actors import Actor
from creneau.core.errors import InvalidInput, NotFound, PermissionDenied
from creneau.exports import services
from creneau.exports.models import ExportStatus

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> object:
    """The messages asserted below are the English msgids; French is the default language."""
    with translation.override("en"):
        yield


@pytest.fixture
def recipient_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def admin_with_mfa(org: object) -> tuple[Actor, str]:
    actor = f.staff(org, Role.ORG_ADMIN)  # type: ignore[arg-type]
    secret = pyotp.random_base32()
    MFADevice.objects.create(user=f.user_of(actor), secret=secret, confirmed_at=clock.now(), last_step=0)
    return actor, secret


def code(secret: str, minutes: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() + dt.timedelta(minutes=minutes))


def decrypt(envelope: bytes, key: rsa.RSAPrivateKey) -> dict:
    env = json.loads(envelope)
    aes = key.decrypt(
        base64.b64decode(env["wrapped_key"]),
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    plain = AESGCM(aes).decrypt(
        base64.b64decode(env["nonce"]), base64.b64decode(env["ciphertext"]), env["aad"].encode()
    )
    return json.loads(plain)


def test_two_admins_produce_a_file_only_the_recipient_can_read(
    world: World, recipient_key: rsa.RSAPrivateKey, settings: Settings, tmp_path: Path
) -> None:
    settings.CRENEAU_EXPORT_DIR = str(tmp_path)
    first, s1 = admin_with_mfa(world.org)
    second, s2 = admin_with_mfa(world.org)
    export = services.export_request(
        actor=first,
        organization_id=world.org.pk,
        reason="Fin de contrat",
        recipient="Nouveau logiciel SAS",
        public_key_pem=pem(recipient_key),
        mfa_code=code(s1),
    )
    with pytest.raises(PermissionDenied, match="Another administrator"):
        services.export_approve(actor=first, export_id=export.pk, mfa_code=code(s1, 1))
    export = services.export_approve(actor=second, export_id=export.pk, mfa_code=code(s2))
    assert export.status == ExportStatus.READY and export.patient_count == 1  # the phone caller
    _name, data = services.export_download(actor=second, export_id=export.pk)
    assert b"Appelant" not in data  # encrypted at rest and in transit
    content = decrypt(data, recipient_key)
    names = {p["family_name"] for p in content["patients"]}
    assert "Appelant" in names and len(content["patients"]) == 2  # the caller and the decoy
    # The leaked file names its export.
    assert services.export_trace(json.dumps(content)) == export
    # Every exported record is in the audit trail, and exporting did not trip extraction detection.
    exported = AuditEvent.objects.filter(action="export", via="bulk_export")
    assert set(AuditAccess.objects.filter(event__in=exported).values_list("patient_id", flat=True)) >= {world.caller.pk}
    assert not DetectionAlert.objects.exists()


def test_a_wrong_code_or_a_weak_key_is_refused(world: World, recipient_key: rsa.RSAPrivateKey) -> None:
    first, s1 = admin_with_mfa(world.org)
    with pytest.raises(PermissionDenied, match="verification code"):
        services.export_request(
            actor=first,
            organization_id=world.org.pk,
            reason="r",
            recipient="x",
            public_key_pem=pem(recipient_key),
            mfa_code="000000",
        )
    weak = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidInput, match="3072"):
        services.export_request(
            actor=first,
            organization_id=world.org.pk,
            reason="r",
            recipient="x",
            public_key_pem=pem(weak),
            mfa_code=code(s1),
        )
    with pytest.raises(InvalidInput, match="PEM"):
        services.export_request(
            actor=first,
            organization_id=world.org.pk,
            reason="r",
            recipient="x",
            public_key_pem="not a key",
            mfa_code=code(s1),
        )


def test_secretaries_and_other_organizations_cannot_export(world: World, recipient_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(NotFound):
        services.export_request(
            actor=world.secretary,
            organization_id=world.org.pk,
            reason="r",
            recipient="x",
            public_key_pem=pem(recipient_key),
            mfa_code="123456",
        )
    outsider_admin, s = admin_with_mfa(world.other_org)
    first, s1 = admin_with_mfa(world.org)
    export = services.export_request(
        actor=first,
        organization_id=world.org.pk,
        reason="r",
        recipient="x",
        public_key_pem=pem(recipient_key),
        mfa_code=code(s1),
    )
    with pytest.raises(NotFound):
        services.export_approve(actor=outsider_admin, export_id=export.pk, mfa_code=code(s))


def test_the_exports_page_is_for_organization_admins_only(client: Client, world: World) -> None:
    client.force_login(f.user_of(world.secretary))
    assert client.get("/practice/exports/").status_code == 404


def test_the_export_holds_the_organizations_appointments(
    world: World, recipient_key: rsa.RSAPrivateKey, settings: Settings, tmp_path: Path
) -> None:
    """The approver's agendas of the exporting organization bound what is exported: its appointments."""
    from creneau.booking.services import SlotRef, appointment_book

    settings.CRENEAU_EXPORT_DIR = str(tmp_path)
    booked = appointment_book(
        actor=world.secretary,
        slot=SlotRef(world.doc.pk, world.motif.pk, world.site.pk, f.paris(2026, 3, 3, 9, 0)),
        patient_id=world.caller.pk,
    )
    first, s1 = admin_with_mfa(world.org)
    second, s2 = admin_with_mfa(world.org)
    export = services.export_request(
        actor=first,
        organization_id=world.org.pk,
        reason="Fin de contrat",
        recipient="Nouveau logiciel SAS",
        public_key_pem=pem(recipient_key),
        mfa_code=code(s1),
    )
    export = services.export_approve(actor=second, export_id=export.pk, mfa_code=code(s2))
    assert export.appointment_count == 1
    _name, data = services.export_download(actor=second, export_id=export.pk)
    assert [a["id"] for a in decrypt(data, recipient_key)["appointments"]] == [str(booked.pk)]


def test_a_recovery_code_used_for_an_export_is_audited_with_the_exporting_admin(
    world: World, recipient_key: rsa.RSAPrivateKey
) -> None:
    """The step-up's audit row names the admin as they act (their role in the organization, their
    address), not a context-free account holder."""
    from creneau.accounts.mfa import new_recovery_codes

    first, _s1 = admin_with_mfa(world.org)
    first = dataclasses.replace(first, ip="192.0.2.44")
    [recovery, *_rest] = new_recovery_codes(first.user)
    services.export_request(
        actor=first,
        organization_id=world.org.pk,
        reason="Fin de contrat",
        recipient="Nouveau logiciel SAS",
        public_key_pem=pem(recipient_key),
        mfa_code=recovery,
    )
    [used] = AuditEvent.objects.filter(via="recovery_code_use")
    assert (used.principal, used.actor_role, used.ip) == (first.key, first.role, "192.0.2.44")
    assert "org_admin" in used.actor_role
