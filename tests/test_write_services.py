"""Every write service writes its audit row in the same transaction (issue 12, item 4).

The services are found by import and introspection: every public function of every
`creneau/<app>/services.py` and of the other service modules below. Each one is either in WRITES (how
to call it successfully with a real actor, and the `via` its audit row carries) or in NOT_WRITES with
the reason; a new service in neither fails the first test, so it cannot be added without its audit.

Each write is then called twice on the same objects: first with the audit trail failing on its own
row (an exception raised as that row is written), which must leave every other table exactly as it
was (the write and its audit row share one transaction); then normally, which must add the row."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import inspect
import pkgutil
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

import creneau
from creneau.accounts import mfa, passkeys, team
from creneau.accounts import services as accounts
from creneau.accounts.models import Invitation, Membership, Role, User
from creneau.accounts.selectors import invitation_token
from creneau.accounts.team import AgendaRights
from creneau.audit import services as audit_services
from creneau.audit.models import AuditEvent
from creneau.booking import services as booking
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.crypto.blind import blind_index
from creneau.directory import services as directory
from creneau.exports import services as exports
from creneau.fhir import services as fhir
from creneau.fhir import subscriptions
from creneau.incidents import services as incidents
from creneau.notifications import agenda_feed, waitlist
from creneau.notifications import services as notifications
from creneau.notifications.models import MessageChannel, OutboundMessage, WaitingListEntry, WaitingListOffer
from creneau.patients import services as patients
from creneau.patients.models import Patient
from creneau.privacy import rights
from creneau.scheduling import services as scheduling
from creneau.scheduling.models import Absence, OpeningRule

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db

# Service modules besides the `services.py` of each app.
OTHER_SERVICE_MODULES = (
    "creneau.accounts.team",
    # accounts.services re-exports these
    "creneau.accounts.factor_services",
    "creneau.accounts.operator_services",
    "creneau.accounts.password_services",
    "creneau.accounts.tasks",
    # booking's use cases (booking.services re-exports them)
    "creneau.booking.book",
    "creneau.booking.changes",
    "creneau.booking.holds",
    "creneau.booking.staff",
    "creneau.booking.erasure",
    "creneau.notifications.waitlist",
    "creneau.notifications.agenda_feed",
    "creneau.fhir.subscriptions",
    "creneau.privacy.retention",
    "creneau.privacy.rights",
)
PASSWORD = "correct horse battery 42"
ANONYMOUS = Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip="192.0.2.7")
# Tables a failed write may leave changed: the audit trail itself (its own tables) and the second
# factor's replay bookkeeping (a code checked before the write stays used, on purpose).
UNTRACKED_PREFIXES = ("audit_",)
UNTRACKED_TABLES = {"accounts_mfadevice", "accounts_recoverycode", "django_session"}


def service_modules() -> list[str]:
    found = [
        f"creneau.{m.name}.services"
        for m in pkgutil.iter_modules(creneau.__path__)
        if m.ispkg and importlib.util.find_spec(f"creneau.{m.name}.services") is not None
    ]
    return sorted(found) + list(OTHER_SERVICE_MODULES)


def public_functions() -> set[str]:
    out = set()
    for name in service_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == name and not attr.startswith("_"):
                out.add(f"{name.removeprefix('creneau.')}.{attr}")
    return out


# --- the world the calls run in --------------------------------------------------------------------------


@dataclasses.dataclass
class W:
    org: Any
    site: Any
    doc: Any
    agenda: Any
    motif: Any
    user: User
    patient: Any
    patient_actor: Actor
    secretary: Actor
    caller: Any
    tmp: Any

    def slot(self, day: int = 3, hour: int = 9) -> SlotRef:
        return SlotRef(self.doc.pk, self.motif.pk, self.site.pk, f.paris(2026, 3, day, hour, 0))

    def booked(self, day: int = 3, hour: int = 9) -> Appointment:
        return booking.appointment_book(actor=self.patient_actor, slot=self.slot(day, hour), patient_id=self.patient.pk)

    def admin(self) -> Actor:
        return f.staff(self.org, Role.ORG_ADMIN)

    def admin_with_codes(self) -> tuple[Actor, list[str]]:
        actor = self.admin()
        mfa.MFADevice.objects.create(user=f.user_of(actor), secret=mfa.new_secret(), confirmed_at=clock.now())
        return actor, mfa.new_recovery_codes(actor.user)


def operator() -> Actor:
    user = User.objects.create_superuser(f"op-{uuid.uuid4().hex[:8]}@example.invalid", PASSWORD)
    return Actor.for_operator(user, ip="192.0.2.9")


def holder(email: str = "holder@example.invalid", *, active: bool = True) -> tuple[User, Actor]:
    user = User.objects.create_user(email, PASSWORD, is_active=active)
    return user, Actor.for_patient(user, ip="192.0.2.8")


def with_device(user: User) -> str:
    secret = mfa.new_secret()
    mfa.MFADevice.objects.create(user=user, secret=secret, confirmed_at=clock.now())
    return secret


def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def fresh(model: Any, pk: Any) -> Any:
    return model.objects.get(pk=pk)


Call = Callable[[], object]


@dataclasses.dataclass(frozen=True)
class Case:
    via: str  # the audit row's `via`
    prepare: Callable[[W], Call]  # builds what the call needs, returns the call


# --- accounts ---------------------------------------------------------------------------------------------


def _signup(w: W) -> Call:
    return lambda: accounts.account_signup(
        actor=ANONYMOUS, email="new@example.invalid", password=PASSWORD, language="fr"
    )


def _verify(w: W) -> Call:
    user, _a = holder(active=False)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return lambda: accounts.account_email_verify(actor=ANONYMOUS, uidb64=uid, token=token)


def _on_user(service: Callable[..., object], **kwargs: Any) -> Callable[[W], Call]:
    def prepare(w: W) -> Call:
        user, actor = holder()
        if kwargs.pop("device", False):
            with_device(user)
        return lambda: service(actor=actor, user=fresh(User, user.pk), **kwargs)

    return prepare


def _reset_send(w: W) -> Call:
    holder("reset@example.invalid")
    return lambda: accounts.password_reset_send(
        actor=ANONYMOUS, email_index=blind_index("email", "reset@example.invalid") or ""
    )


def _mfa_enable(w: W) -> Call:
    user, actor = holder()
    secret = mfa.new_secret()
    return lambda: accounts.mfa_enable(
        actor=actor, user=fresh(User, user.pk), secret=secret, code=pyotp.TOTP(secret).at(clock.now())
    )


def _recovery_check(w: W) -> Call:
    user, actor = holder()
    with_device(user)
    codes = mfa.new_recovery_codes(user)
    return lambda: accounts.mfa_code_check(actor=actor, user=fresh(User, user.pk), code=codes[0])


def _operator_update(w: W) -> Call:
    user, _a = holder()
    op = operator()
    return lambda: accounts.account_operator_update(actor=op, user=fresh(User, user.pk), values={"language": "en"})


def _operator_delete(w: W) -> Call:
    user, _a = holder()
    op = operator()
    return lambda: accounts.account_operator_delete(actor=op, user=fresh(User, user.pk))


def _membership_save(w: W) -> Call:
    user, _a = holder()
    op = operator()
    return lambda: accounts.membership_operator_save(
        actor=op, membership=Membership(user=user, organization=w.org, role=Role.SECRETARY)
    )


def _new_passkey() -> passkeys.NewPasskey:
    return passkeys.NewPasskey(
        credential_id=uuid.uuid4().hex, public_key=b"\xa5", sign_count=0, transports=["usb"], aaguid="", backed_up=False
    )


def _passkey_register(w: W) -> Call:
    user, actor = holder()
    return lambda: accounts.passkey_register(actor=actor, user=fresh(User, user.pk), new=_new_passkey(), name="Clé")


def _stored_passkey(user: User) -> passkeys.Passkey:
    new = _new_passkey()
    return passkeys.Passkey.objects.create(
        user=user, name="Clé", credential_id=new.credential_id, public_key=new.public_key
    )


def _passkey_remove(w: W) -> Call:
    user, actor = holder()
    passkey = _stored_passkey(user)
    return lambda: accounts.passkey_remove(actor=actor, user=fresh(User, user.pk), passkey_id=passkey.pk)


def _passkey_sign_in(w: W) -> Call:
    user, actor = holder()
    passkey = _stored_passkey(user)
    return lambda: accounts.passkey_sign_in_record(
        actor=actor, user=fresh(User, user.pk), passkey=fresh(passkeys.Passkey, passkey.pk), new_device=True
    )


def _passkeys_require(w: W) -> Call:
    admin = w.admin()
    return lambda: directory.organization_passkeys_require(actor=admin, organization_id=w.org.pk, required=True)


def _practitioner_profile(w: W) -> Call:
    return lambda: directory.practitioner_profile_update(actor=w.secretary, agenda_id=w.agenda.pk, fees="30 €")


def _site_profile(w: W) -> Call:
    return lambda: directory.site_profile_update(
        actor=w.secretary, agenda_id=w.agenda.pk, site_id=w.site.pk, phone="04 78 12 34 56"
    )


_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _photo_set(w: W) -> Call:
    return lambda: directory.practitioner_photo_set(actor=w.secretary, agenda_id=w.agenda.pk, data=_PNG)


def _photo_remove(w: W) -> Call:
    directory.practitioner_photo_set(actor=w.secretary, agenda_id=w.agenda.pk, data=_PNG)
    return lambda: directory.practitioner_photo_remove(actor=w.secretary, agenda_id=w.agenda.pk)


def _reminders_switch(w: W) -> Call:
    return lambda: notifications.reminders_switch(actor=w.secretary, agenda_id=w.agenda.pk, enabled=False)


def _feed_create(w: W) -> Call:
    user, actor = holder()
    return lambda: notifications.calendar_feed_create(actor=actor, user=fresh(User, user.pk))


def _agenda_feed_create(w: W) -> Call:
    return lambda: agenda_feed.agenda_feed_create(actor=w.secretary, agenda_id=w.agenda.pk)


def _agenda_feed_stop(w: W) -> Call:
    agenda_feed.agenda_feed_create(actor=w.secretary, agenda_id=w.agenda.pk)
    return lambda: agenda_feed.agenda_feed_stop(actor=w.secretary, agenda_id=w.agenda.pk)


def _feed_stop(w: W) -> Call:
    user, actor = holder()
    notifications.calendar_feed_create(actor=actor, user=user)
    return lambda: notifications.calendar_feed_stop(actor=actor, user=fresh(User, user.pk))


def _membership_delete(w: W) -> Call:
    user, _a = holder()
    membership = Membership.objects.create(user=user, organization=w.org, role=Role.SECRETARY)
    op = operator()
    return lambda: accounts.membership_operator_delete(actor=op, membership=fresh(Membership, membership.pk))


# --- team -------------------------------------------------------------------------------------------------


def _invite(w: W, admin: Actor, email: str = "invited@example.invalid") -> Invitation:
    return team.invitation_create(
        actor=admin,
        organization_id=w.org.pk,
        email=email,
        role=Role.SECRETARY,
        rights={w.agenda.pk: AgendaRights(True)},
    )


def _invitation_create(w: W) -> Call:
    admin = w.admin()
    return lambda: _invite(w, admin)


def _invitation_revoke(w: W) -> Call:
    admin = w.admin()
    invitation = _invite(w, admin)
    return lambda: team.invitation_revoke(actor=admin, invitation_id=invitation.pk)


def _invitation_accept(w: W) -> Call:
    invitation = _invite(w, w.admin())
    token = invitation_token(invitation.pk)
    return lambda: team.invitation_accept(actor=team.visitor(), token=token, password="une phrase de passe solide 42")


def _secretary_membership(w: W) -> Membership:
    return Membership.objects.get(user=f.user_of(w.secretary), organization=w.org)


def _role_change(w: W) -> Call:
    admin, membership = w.admin(), _secretary_membership(w)
    return lambda: team.membership_role_change(actor=admin, membership_id=membership.pk, role=Role.ORG_ADMIN)


def _rights_set(w: W) -> Call:
    admin, membership = w.admin(), _secretary_membership(w)
    return lambda: team.agenda_rights_set(
        actor=admin, membership_id=membership.pk, rights={w.agenda.pk: AgendaRights(view=True)}
    )


def _member_remove(w: W) -> Call:
    admin, membership = w.admin(), _secretary_membership(w)
    return lambda: team.membership_remove(actor=admin, membership_id=membership.pk)


# --- booking ----------------------------------------------------------------------------------------------


def _force(w: W) -> Call:
    w.booked()  # on top of an appointment: what forcing is for
    return lambda: booking.appointment_force(
        actor=w.secretary, slot=w.slot(), patient_id=w.caller.pk, reason="Urgence vue au téléphone"
    )


def _hold(w: W) -> Call:
    return lambda: booking.slot_hold(actor=w.patient_actor, slot=w.slot())


def _hold_release(w: W) -> Call:
    hold = booking.slot_hold(actor=w.patient_actor, slot=w.slot())
    return lambda: booking.hold_release(actor=w.patient_actor, hold_id=hold.pk)


def _hold_extend(w: W) -> Call:
    hold = booking.slot_hold(actor=w.patient_actor, slot=w.slot())
    assert hold.hold_expires_at is not None
    until = hold.hold_expires_at + dt.timedelta(minutes=30)
    return lambda: booking.hold_extend(actor=w.patient_actor, hold_id=hold.pk, until=until)


def _hold_confirm(w: W) -> Call:
    hold = booking.slot_hold(actor=w.patient_actor, slot=w.slot())
    return lambda: booking.hold_confirm(actor=w.patient_actor, hold_id=hold.pk, patient_id=w.patient.pk)


def _book(w: W) -> Call:
    return lambda: w.booked()


def _cancel(w: W) -> Call:
    appointment = w.booked()
    return lambda: booking.appointment_cancel(actor=w.patient_actor, appointment_id=appointment.pk)


def _reschedule(w: W) -> Call:
    appointment = w.booked()
    return lambda: booking.appointment_reschedule(
        actor=w.secretary, appointment_id=appointment.pk, new_start=f.paris(2026, 3, 4, 10, 0)
    )


def _mark(w: W) -> Call:
    with clock.frozen_at(f.paris(2026, 3, 2, 7, 0) - dt.timedelta(days=1)):
        appointment = booking.appointment_book(actor=w.secretary, slot=w.slot(day=1, hour=9), patient_id=w.caller.pk)
    return lambda: booking.appointment_mark(actor=w.secretary, appointment_id=appointment.pk, status="fulfilled")


def _absence_over_appointments(w: W) -> Call:
    appointment = w.booked()
    return lambda: booking.absence_create_over_appointments(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        start_at=appointment.start_at - dt.timedelta(hours=1),
        end_at=appointment.end_at + dt.timedelta(hours=1),
        label="Malade",
        cancel=True,
    )


# --- exports, API, incidents ------------------------------------------------------------------------------


def _export(w: W) -> tuple[Any, list[str]]:
    first, codes = w.admin_with_codes()
    export = exports.export_request(
        actor=first,
        organization_id=w.org.pk,
        reason="Fin de contrat",
        recipient="Nouveau logiciel",
        public_key_pem=pem(),
        mfa_code=codes[0],
    )
    return export, codes


def _export_request(w: W) -> Call:
    first, codes = w.admin_with_codes()
    key = pem()
    left = iter(codes)
    return lambda: exports.export_request(
        actor=first,
        organization_id=w.org.pk,
        reason="Fin",
        recipient="Logiciel",
        public_key_pem=key,
        mfa_code=next(left),
    )


def _export_approve(w: W) -> Call:
    export, _codes = _export(w)
    second, codes = w.admin_with_codes()
    left = iter(codes)
    return lambda: exports.export_approve(actor=second, export_id=export.pk, mfa_code=next(left))


def _export_reject(w: W) -> Call:
    export, _codes = _export(w)
    second = w.admin()
    return lambda: exports.export_reject(actor=second, export_id=export.pk)


def _export_download(w: W) -> Call:
    export, _codes = _export(w)
    second, codes = w.admin_with_codes()
    exports.export_approve(actor=second, export_id=export.pk, mfa_code=codes[0])
    return lambda: exports.export_download(actor=second, export_id=export.pk)


def _client(w: W) -> str:
    app, _secret = fhir.api_client_create(actor=Actor.system(), name="Logiciel du cabinet")
    return str(app.client_id)  # type: ignore[attr-defined]


def _api_client_create(w: W) -> Call:
    return lambda: fhir.api_client_create(actor=Actor.system(), name="Logiciel")


def _api_grant_create(w: W) -> Call:
    admin, client_id = w.admin(), _client(w)
    return lambda: fhir.api_grant_create(
        actor=admin, client_id=client_id, organization_id=w.org.pk, scope_list=["system/Slot.rs"]
    )


def _api_grant_revoke(w: W) -> Call:
    admin = w.admin()
    grant = fhir.api_grant_create(
        actor=admin, client_id=_client(w), organization_id=w.org.pk, scope_list=["system/Slot.rs"]
    )
    return lambda: fhir.api_grant_revoke(actor=admin, grant_id=grant.pk)


def _partner(w: W) -> Actor:
    """An API client granted appointment searches in the organization (what a subscription needs)."""
    client_id = _client(w)
    fhir.api_grant_create(
        actor=w.admin(), client_id=client_id, organization_id=w.org.pk, scope_list=["system/Appointment.rs"]
    )
    return Actor(
        kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=client_id, organization_ids=frozenset({w.org.pk})
    )


def _subscribe(w: W, partner: Actor) -> Any:
    sub, _secret = subscriptions.subscription_create(
        actor=partner, criteria=f"Appointment?actor=Practitioner/{w.doc.pk}", endpoint="https://partner.example/hook"
    )
    return sub


def _subscription_create(w: W) -> Call:
    partner = _partner(w)
    return lambda: _subscribe(w, partner)


def _subscription_delete(w: W) -> Call:
    partner = _partner(w)
    sub = _subscribe(w, partner)
    return lambda: subscriptions.subscription_delete(actor=partner, subscription_id=sub.pk)


def _subscription_update_status(w: W) -> Call:
    partner = _partner(w)
    sub = _subscribe(w, partner)
    return lambda: subscriptions.subscription_update_status(actor=partner, subscription_id=sub.pk, status="off")


def _incident(actor: Actor) -> Any:
    start = f.paris(2026, 3, 1)
    return incidents.incident_open(actor=actor, principal="client:x", start=start, end=start + dt.timedelta(hours=1))


def _incident_open(w: W) -> Call:
    op = operator()
    return lambda: _incident(op)


def _on_incident(service: Callable[..., object], **kwargs: Any) -> Callable[[W], Call]:
    def prepare(w: W) -> Call:
        op = operator()
        incident = _incident(op)
        return lambda: service(actor=op, incident_id=incident.pk, **kwargs)

    return prepare


# --- patients ---------------------------------------------------------------------------------------------


def _relative(w: W) -> Call:
    return lambda: patients.patient_create_for_account(
        actor=w.patient_actor,
        relationship="child",
        family_name="Enfant",
        given_name="Zoé",
        birth_date=dt.date(2019, 1, 1),
    )


def _practice_patient(w: W) -> Call:
    return lambda: patients.patient_create_for_organization(
        actor=w.secretary,
        organization_id=w.org.pk,
        family_name="Nouveau",
        given_name="N",
        birth_date=dt.date(1980, 1, 1),
    )


def _patient_update(w: W) -> Call:
    return lambda: patients.patient_update(actor=w.patient_actor, patient_id=w.patient.pk, given_name="Alicia")


def _note_add(w: W) -> Call:
    return lambda: patients.patient_note_add(
        actor=w.secretary, patient_id=w.caller.pk, organization_id=w.org.pk, text="Prefers mornings."
    )


def _booking_block(w: W) -> Call:
    return lambda: patients.patient_booking_block(
        actor=w.secretary, patient_id=w.caller.pk, organization_id=w.org.pk, reason="3 missed"
    )


def _booking_unblock(w: W) -> Call:
    patients.patient_booking_block(actor=w.secretary, patient_id=w.caller.pk, organization_id=w.org.pk)
    return lambda: patients.patient_booking_unblock(actor=w.secretary, patient_id=w.caller.pk, organization_id=w.org.pk)


def _unconfirmed(w: W) -> None:
    Patient.objects.filter(pk=w.patient.pk).update(phone_verified_at=None)


def _phone_send(w: W) -> Call:
    _unconfirmed(w)
    return lambda: patients.patient_phone_code_send(actor=w.patient_actor, patient_id=w.patient.pk)


def _phone_confirm(w: W) -> Call:
    _unconfirmed(w)
    patients.patient_phone_code_send(actor=w.patient_actor, patient_id=w.patient.pk)
    sms = OutboundMessage.objects.filter(channel=MessageChannel.SMS).order_by("-created_at").first()
    assert sms is not None
    code = re.search(r"\b(\d{6})\b", sms.body_text).group(1)  # type: ignore[union-attr]
    return lambda: patients.patient_phone_confirm(actor=w.patient_actor, patient_id=w.patient.pk, code=code)


def _data(service: Callable[..., object]) -> Callable[[W], Call]:
    return lambda w: lambda: service(actor=w.patient_actor, patient_id=w.patient.pk)


def _erase(w: W) -> Call:
    w.booked()
    return lambda: rights.account_erase(actor=w.patient_actor)


def _retention(w: W) -> Call:
    return lambda: __import__("creneau.privacy.retention", fromlist=["retention_run"]).retention_run()


# --- scheduling -------------------------------------------------------------------------------------------


def _motif_create(w: W) -> Call:
    return lambda: scheduling.motif_create(
        actor=w.secretary, agenda_id=w.agenda.pk, name="Vaccin", duration_minutes=15, min_notice_minutes=0
    )


def _motif_update(w: W) -> Call:
    return lambda: scheduling.motif_update(actor=w.secretary, motif_id=w.motif.pk, duration_minutes=20)


def _question_add(w: W) -> Call:
    return lambda: scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Ordonnance ?")


def _question_delete(w: W) -> Call:
    question = scheduling.motif_question_add(actor=w.secretary, motif_id=w.motif.pk, text="Ordonnance ?")
    return lambda: scheduling.motif_question_delete(actor=w.secretary, question_id=question.pk)


def _rule_create(w: W) -> Call:
    return lambda: scheduling.opening_rule_create(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        site_id=w.site.pk,
        weekday=0,
        start_time=dt.time(14),
        end_time=dt.time(18),
        valid_from=dt.date(2026, 1, 1),
    )


def _a_rule(w: W) -> OpeningRule:
    rule = OpeningRule.objects.filter(practitioner=w.doc).first()
    assert rule is not None
    return rule


def _rule_update(w: W) -> Call:
    rule = _a_rule(w)
    return lambda: scheduling.opening_rule_update(actor=w.secretary, rule_id=rule.pk, end_time=dt.time(12, 30))


def _rule_delete(w: W) -> Call:
    rule = _a_rule(w)
    return lambda: scheduling.opening_rule_delete(actor=w.secretary, rule_id=rule.pk)


def _absence(w: W) -> Absence:
    return scheduling.absence_create(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        start_at=f.paris(2026, 4, 1),
        end_at=f.paris(2026, 4, 2),
        label="Congrès",
    )


def _absence_create(w: W) -> Call:
    return lambda: _absence(w)


def _absence_update(w: W) -> Call:
    absence = _absence(w)
    return lambda: scheduling.absence_update(actor=w.secretary, absence_id=absence.pk, end_at=f.paris(2026, 4, 3))


def _absence_delete(w: W) -> Call:
    absence = _absence(w)
    return lambda: scheduling.absence_delete(actor=w.secretary, absence_id=absence.pk)


# --- waiting list -----------------------------------------------------------------------------------------


def _join(w: W) -> WaitingListEntry:
    return waitlist.waitlist_join(actor=w.patient_actor, patient_id=w.patient.pk, motif_id=w.motif.pk)


def _waitlist_join(w: W) -> Call:
    return lambda: _join(w)


def _waitlist_join_for_appointment(w: W) -> Call:
    appointment = w.booked(day=5)
    return lambda: waitlist.waitlist_join_for_appointment(actor=w.patient_actor, appointment_id=appointment.pk)


def _waitlist_leave(w: W) -> Call:
    entry = _join(w)
    return lambda: waitlist.waitlist_leave(actor=w.patient_actor, entry_id=entry.pk)


def _offer(w: W) -> WaitingListOffer:
    """Alice waits; Bruno's booking is cancelled, so the freed slot is offered (held) to her."""
    _join(w)
    _u, other, other_actor = f.patient_account("bruno@example.invalid", given_name="Bruno")
    taken = booking.appointment_book(actor=other_actor, slot=w.slot(day=3, hour=10), patient_id=other.pk)
    booking.appointment_cancel(actor=other_actor, appointment_id=taken.pk)
    offer = WaitingListOffer.objects.get(entry__patient=w.patient)
    return offer


def _offer_accept(w: W) -> Call:
    offer = _offer(w)
    return lambda: waitlist.waitlist_offer_accept(actor=w.patient_actor, offer_id=offer.pk)


def _offer_decline(w: W) -> Call:
    offer = _offer(w)
    return lambda: waitlist.waitlist_offer_decline(actor=w.patient_actor, offer_id=offer.pk)


# --- the table --------------------------------------------------------------------------------------------

WRITES: dict[str, Case] = {
    "accounts.services.account_signup": Case("account_signup", _signup),
    "accounts.services.account_email_verify": Case("account_email_verify", _verify),
    "accounts.services.account_sign_in_record": Case(
        "login", _on_user(accounts.account_sign_in_record, new_device=True)
    ),
    "accounts.services.account_sign_out": Case("logout", _on_user(accounts.account_sign_out)),
    "accounts.password_services.password_change": Case(
        "password_change", _on_user(accounts.password_change, new_password="a brand new passphrase 9")
    ),
    "accounts.tasks.password_reset_send": Case("password_reset_request", _reset_send),
    "accounts.password_services.password_reset_complete": Case(
        "password_reset", _on_user(accounts.password_reset_complete, new_password="a brand new passphrase 9")
    ),
    "accounts.password_services.account_sign_out_everywhere": Case(
        "sign_out_everywhere", _on_user(accounts.account_sign_out_everywhere, password=PASSWORD)
    ),
    "accounts.factor_services.mfa_enable": Case("mfa_enable", _mfa_enable),
    "accounts.factor_services.mfa_disable": Case("mfa_disable", _on_user(accounts.mfa_disable, device=True)),
    "accounts.factor_services.recovery_codes_regenerate": Case(
        "recovery_codes_regenerate", _on_user(accounts.recovery_codes_regenerate, device=True)
    ),
    "accounts.factor_services.mfa_code_check": Case("recovery_code_use", _recovery_check),
    "accounts.services.account_close": Case("account_erase", _on_user(accounts.account_close)),
    "accounts.operator_services.account_operator_update": Case("account_operator_update", _operator_update),
    "accounts.operator_services.account_operator_delete": Case("account_operator_delete", _operator_delete),
    "accounts.operator_services.membership_operator_save": Case("membership_operator_save", _membership_save),
    "accounts.operator_services.membership_operator_delete": Case("membership_operator_delete", _membership_delete),
    "accounts.factor_services.passkey_register": Case("passkey_register", _passkey_register),
    "accounts.factor_services.passkey_remove": Case("passkey_remove", _passkey_remove),
    "accounts.factor_services.passkey_sign_in_record": Case("passkey_sign_in", _passkey_sign_in),
    "directory.services.organization_passkeys_require": Case("organization_passkeys_require", _passkeys_require),
    "directory.services.practitioner_profile_update": Case("practitioner_profile_update", _practitioner_profile),
    "directory.services.site_profile_update": Case("site_profile_update", _site_profile),
    "directory.services.practitioner_photo_set": Case("practitioner_photo_set", _photo_set),
    "directory.services.practitioner_photo_remove": Case("practitioner_photo_remove", _photo_remove),
    "notifications.services.reminders_switch": Case("reminders_switch", _reminders_switch),
    "notifications.services.calendar_feed_create": Case("calendar_feed_create", _feed_create),
    "notifications.services.calendar_feed_stop": Case("calendar_feed_stop", _feed_stop),
    "notifications.agenda_feed.agenda_feed_create": Case("agenda_feed_create", _agenda_feed_create),
    "notifications.agenda_feed.agenda_feed_stop": Case("agenda_feed_stop", _agenda_feed_stop),
    "accounts.team.invitation_create": Case("invitation_create", _invitation_create),
    "accounts.team.invitation_revoke": Case("invitation_revoke", _invitation_revoke),
    "accounts.team.invitation_accept": Case("invitation_accept", _invitation_accept),
    "accounts.team.membership_role_change": Case("membership_role_change", _role_change),
    "accounts.team.agenda_rights_set": Case("agenda_rights_set", _rights_set),
    "accounts.team.membership_remove": Case("membership_remove", _member_remove),
    "booking.holds.slot_hold": Case("booking", _hold),
    "booking.holds.hold_release": Case("booking", _hold_release),
    "booking.holds.hold_extend": Case("booking", _hold_extend),
    "booking.holds.hold_confirm": Case("booking", _hold_confirm),
    "booking.book.appointment_book": Case("booking", _book),
    "booking.changes.appointment_cancel": Case("booking", _cancel),
    "booking.changes.appointment_reschedule": Case("booking", _reschedule),
    "booking.changes.appointment_mark": Case("booking", _mark),
    "booking.staff.appointment_force": Case("appointment_force", _force),
    "booking.staff.absence_create_over_appointments": Case("absence_create", _absence_over_appointments),
    "exports.services.export_request": Case("export_request", _export_request),
    "exports.services.export_approve": Case("bulk_export", _export_approve),
    "exports.services.export_reject": Case("export_reject", _export_reject),
    "exports.services.export_download": Case("export_download", _export_download),
    "fhir.services.api_client_create": Case("api_client_create", _api_client_create),
    "fhir.services.api_grant_create": Case("api_grant_create", _api_grant_create),
    "fhir.services.api_grant_revoke": Case("api_grant_revoke", _api_grant_revoke),
    "fhir.subscriptions.subscription_create": Case("subscription_create", _subscription_create),
    "fhir.subscriptions.subscription_delete": Case("subscription_delete", _subscription_delete),
    "fhir.subscriptions.subscription_update_status": Case("subscription_update", _subscription_update_status),
    "incidents.services.incident_open": Case("incident_open", _incident_open),
    "incidents.services.incident_refresh_scope": Case(
        "incident_refresh_scope", _on_incident(incidents.incident_refresh_scope)
    ),
    "incidents.services.incident_update": Case(
        "incident_update", _on_incident(incidents.incident_update, status="closed")
    ),
    "incidents.services.incident_notify_patients": Case(
        "incident_notify_patients", _on_incident(incidents.incident_notify_patients)
    ),
    "notifications.waitlist.waitlist_join": Case("waitlist_join", _waitlist_join),
    "notifications.waitlist.waitlist_join_for_appointment": Case("waitlist_join", _waitlist_join_for_appointment),
    "notifications.waitlist.waitlist_leave": Case("waitlist_leave", _waitlist_leave),
    "notifications.waitlist.waitlist_offer_accept": Case("booking", _offer_accept),
    "notifications.waitlist.waitlist_offer_decline": Case("waitlist_offer_decline", _offer_decline),
    "patients.services.patient_create_for_account": Case("patients", _relative),
    "patients.services.patient_create_for_organization": Case("patients", _practice_patient),
    "patients.services.patient_update": Case("patients", _patient_update),
    "patients.services.patient_phone_code_send": Case("patients", _phone_send),
    "patients.services.patient_phone_confirm": Case("patients", _phone_confirm),
    "patients.services.patient_note_add": Case("patient_note_add", _note_add),
    "patients.services.patient_booking_block": Case("patient_booking_block", _booking_block),
    "patients.services.patient_booking_unblock": Case("patient_booking_unblock", _booking_unblock),
    "privacy.rights.patient_data_export": Case("patient_data_export", _data(rights.patient_data_export)),
    "privacy.rights.patient_data_bundle": Case("patient_data_export", _data(rights.patient_data_bundle)),
    "privacy.rights.account_erase": Case("account_erase", _erase),
    "scheduling.services.motif_create": Case("motif_create", _motif_create),
    "scheduling.services.motif_update": Case("motif_update", _motif_update),
    "scheduling.services.motif_question_add": Case("motif_question_add", _question_add),
    "scheduling.services.motif_question_delete": Case("motif_question_delete", _question_delete),
    "scheduling.services.opening_rule_create": Case("opening_rule_create", _rule_create),
    "scheduling.services.opening_rule_update": Case("opening_rule_update", _rule_update),
    "scheduling.services.opening_rule_delete": Case("opening_rule_delete", _rule_delete),
    "scheduling.services.absence_create": Case("absence_create", _absence_create),
    "scheduling.services.absence_update": Case("absence_update", _absence_update),
    "scheduling.services.absence_delete": Case("absence_delete", _absence_delete),
}

# Public functions of the service modules that are not writes by an actor, and why.
NOT_WRITES: dict[str, str] = {
    "accounts.services.normalize_email": "pure function",
    "accounts.password_services.password_reset_request": "only enqueues the task whose half, password_reset_send, "
    "writes and audits (constant shape: the request does the same for every address)",
    "accounts.team.visitor": "builds the anonymous actor of an invitation link",
    "accounts.team.invitation_account_exists": "read",
    "audit.services.audit_record": "writes the audit row itself",
    "fhir.subscriptions.parse_criteria": "pure function",
    "fhir.subscriptions.check_endpoint": "pure function",
    "audit.services.changes_between": "pure function",
    "audit.services.record_not_found": "writes the audit row of a refused read",
    "audit.services.throttled_request": "counts a throttled request in the cache; past the grace it suspends "
    "through detection's suspension, which writes its own audit row",
    "audit.services.legacy_canonical": "pure function (seal format)",
    "audit.services.legacy_chain_hash": "pure function (seal format)",
    "audit.services.write_mac": "pure function (the writer's MAC)",
    "audit.services.mac_is_valid": "pure function",
    "audit.services.seal_hash": "pure function",
    "audit.services.accesses_by_event": "read of the audit trail",
    "audit.services.audit_seal": "seals the audit trail itself (its own tables)",
    "audit.services.audit_anchor": "publishes the trail's head (its own tables)",
    "audit.services.trail_id": "read of the audit trail",
    "audit.services.audit_checkpoint": "checkpoints the audit trail itself (its own tables)",
    "audit.services.principal_suspend": "the audit trail's own containment (system actor), audited with it",
    "booking.holds.slot_check": "read: checks a slot without writing",
    "patients.services.may_block_online_booking": "read: a rights check",
    "booking.erasure.future_bookings": "read",
    "booking.erasure.account_holds": "read",
    "booking.erasure.on_patient_erasing": "handler inside account_erase: cancels through appointment_cancel",
    "booking.erasure.on_account_erasing": "handler inside account_erase: releases through hold_release",
    "directory.services.agendas_ensure": "derived rows (an agenda per practitioner and organization link), no actor",
    "directory.services.agendas_ensure_for_sites": "derived rows, as above (migrations, seeding)",
    "exports.services.export_dir": "filesystem path",
    "exports.services.export_trace": "read: names the export a leaked file came from",
    "incidents.services.incident_scope": "read of the audit trail",
    "incidents.services.incident_open_for_alert": "detection's entry point: incident_open with the system actor",
    "incidents.services.authority_report": "renders text",
    "incidents.services.on_alert_raised": "detection's listener: incident_open with the system actor",
    "notifications.agenda_feed.is_own_agenda": "read",
    "notifications.agenda_feed.agenda_feed_of": "read (the link's existence and settings)",
    "notifications.agenda_feed.agenda_feed_calendar": "read: the feed (audited as a read when it shows names)",
    "notifications.services.booking_messages": "renders messages",
    "notifications.services.days_before": "pure function (reminder times)",
    "notifications.services.reminder_plan": "pure function (reminder times)",
    "notifications.services.reminders_enabled": "read",
    "notifications.services.reminders_off_for": "read",
    "notifications.services.on_appointment_booked": "queues messages inside the booking's audited transaction",
    "notifications.services.on_appointment_cancelled": "queues messages inside the cancellation's transaction",
    "notifications.services.on_appointment_moved": "queues messages inside the move's transaction",
    "notifications.services.send_phone_code": "queues the SMS inside patient_phone_code_send's transaction",
    "notifications.services.notify_new_login": "queues the message inside account_sign_in_record's transaction",
    "notifications.services.notify_password_changed": "queues the message inside the password service's transaction",
    "notifications.services.notify_mfa_changed": "queues the message inside the second-factor service's transaction",
    "notifications.services.notify_incident": "queues the notices inside incident_notify_patients' transaction",
    "notifications.waitlist.offer_freed_slot": "inside appointment_cancel: holds the slot for the next in line",
    "notifications.waitlist.offers_expire": "system sweep: releases through hold_release (audited)",
    "privacy.rights.anonymize": "helper of account_erase and retention_run, which audit",
    "privacy.retention.retention_run": "system job: audits each anonymization (via retention)",
    "scheduling.services.availability_refresh": "derived index rebuilt from audited writes",
    "scheduling.services.schedule_availability_refresh": "schedules the derived index's rebuild",
    "scheduling.services.availability_taken": "derived index",
    "scheduling.services.availability_refresh_all": "periodic job rebuilding the derived index",
    "scheduling.services.schedule_availability_taken": "schedules the derived index's update",
}


def test_every_service_is_in_the_table() -> None:
    """A new public function in a service module must be added to WRITES (with a call that succeeds)
    or to NOT_WRITES (with the reason); a removed one must leave the table."""
    public = public_functions()
    assert not set(WRITES) & set(NOT_WRITES)
    assert public - set(WRITES) - set(NOT_WRITES) == set(), "not in the table"
    assert (set(WRITES) | set(NOT_WRITES)) - public == set(), "in the table but gone"
    assert len(WRITES) >= 60


class AuditDown(Exception):
    """The audit trail failing as one service's row is written."""


@contextlib.contextmanager
def audit_fails_for(via: str) -> Iterator[None]:
    """The audit trail raises as the row with this `via` is written (rows of other paths still go:
    a step-up's recovery code, the reads a service makes first)."""
    real = audit_services.write_mac

    def failing(event: AuditEvent, accesses: Any) -> str:
        if event.via == via:
            raise AuditDown(via)
        return real(event, accesses)

    audit_services.write_mac = failing  # type: ignore[assignment]
    try:
        yield
    finally:
        audit_services.write_mac = real


def fingerprint() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the audit trail's, to prove a failed write left nothing."""
    out = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if model._meta.proxy or not model._meta.managed or table in UNTRACKED_TABLES:
            continue
        if table.startswith(UNTRACKED_PREFIXES):
            continue
        out[table] = sorted(model._base_manager.values_list(), key=repr)
    return out


@pytest.fixture
def w(world: World, tmp_path: Any, settings: Any) -> W:
    settings.CRENEAU_EXPORT_DIR = str(tmp_path)
    keep = {k: getattr(world, k) for k in ("org", "site", "doc", "agenda", "motif", "user", "patient", "patient_actor")}
    return W(**keep, secretary=world.secretary, caller=world.caller, tmp=tmp_path)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_each_write_service_audits_in_its_own_transaction(name: str, w: W) -> None:
    case = WRITES[name]
    call = case.prepare(w)
    before = fingerprint()
    with audit_fails_for(case.via), pytest.raises(AuditDown):
        call()
    after = fingerprint()
    changed = sorted(t for t in before if before[t] != after.get(t))
    assert changed == [], f"{name}: written without its audit row in {changed}"
    rows = AuditEvent.objects.filter(via=case.via).count()
    call()
    assert AuditEvent.objects.filter(via=case.via).count() > rows, f"{name}: no audit row via {case.via}"
