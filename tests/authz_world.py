"""The world the authorization matrix walks (tests/test_authz_matrix.py): two organizations with real
agendas, patients, a relative, appointments, holds, waiting-list offers, an export, API clients with
grants and OAuth tokens, and one signed-in browser session per persona (staff with a confirmed second
factor and a verified session, as the MFA middleware demands once it is enforced)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from creneau.accounts import mfa, reauth
from creneau.accounts.models import Invitation, Membership, Role, User
from creneau.accounts.passkeys import Passkey
from creneau.audit.services import principal_suspend
from creneau.booking.models import Appointment
from creneau.booking.services import SlotRef, appointment_book, slot_hold
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.directory.models import Agenda, Organization, Site
from creneau.exports.models import BulkExport
from creneau.fhir.ids import pair_id, slot_id
from creneau.fhir.models import ApiGrant
from creneau.fhir.subscriptions import subscription_create
from creneau.notifications.models import WaitingListEntry, WaitingListOffer
from creneau.patients.models import Patient, Relationship
from creneau.patients.services import patient_create_for_account
from creneau.scheduling.models import Absence, Motif, OpeningRule
from creneau.scheduling.services import availability_refresh

from . import factories as f
from .fhir_support import grant, register_client, token

# Personas (columns of the matrix).
ANON = "anonymous"
PATIENT = "patient"
RELATIVE = "patient_for_relative"
OTHER_PATIENT = "other_patient"
SEC_A = "secretary_a_rights"
SEC_A_NO = "secretary_a_no_rights"
DOC_OWN = "practitioner_a_own"
DOC_COLLEAGUE = "practitioner_a_colleague"
SEC_B = "secretary_b"
ADMIN_A = "org_admin_a"
OPERATOR = "operator"
API_A = "api_client_a"
API_B = "api_client_b"
SUSPENDED_STAFF = "suspended_staff"
SUSPENDED_API = "suspended_api_client"

PERSONAS = (
    ANON,
    PATIENT,
    RELATIVE,
    OTHER_PATIENT,
    SEC_A,
    SEC_A_NO,
    DOC_OWN,
    DOC_COLLEAGUE,
    SEC_B,
    ADMIN_A,
    OPERATOR,
    API_A,
    API_B,
    SUSPENDED_STAFF,
    SUSPENDED_API,
)

TOMORROW = f.paris(2026, 3, 3)  # the clock is frozen on Monday 2026-03-02, 07:00 Paris (conftest)
SLOT_START = f.paris(2026, 3, 4, 10, 0)  # a free slot of agenda X (Wednesday)


def made_up(kind: str = "uuid") -> str:
    """An id of the right shape that names nothing."""
    if kind == "pair":
        return pair_id(uuid.uuid4(), uuid.uuid4())
    if kind == "slot":
        return slot_id(uuid.uuid4(), uuid.uuid4(), SLOT_START)
    return str(uuid.uuid4())


@dataclasses.dataclass
class World:
    org_a: Organization
    org_b: Organization
    site_a: Site
    site_b: Site
    agenda_x: Agenda  # Dr One at A: the agenda the staff personas are judged on
    agenda_y: Agenda  # Dr Two at A (the colleague)
    agenda_z: Agenda  # Dr Three at B
    motif_x: Motif
    rule_x: OpeningRule
    absence_x: Absence
    patient: Patient
    relative: Patient
    other: Patient
    appointment: Appointment  # the patient's, on agenda X
    relative_appointment: Appointment  # the relative's (booked from the holder's account), on agenda X
    hold: Appointment  # the patient's hold on agenda X
    relative_hold: Appointment
    offer: WaitingListOffer
    relative_offer: WaitingListOffer
    export: BulkExport  # requested by the admin of A
    grant_a: ApiGrant  # the grant A gave client A
    membership: Membership  # the secretary's membership of A (A's admin manages it)
    invitation: Invitation  # a pending invitation to A's team
    passkey: Passkey  # the patient's passkey (only its owner may remove it)
    users: dict[str, User]
    sessions: dict[str, str]  # persona -> session key
    tokens: dict[str, str]  # persona -> bearer token

    def client(self, persona: str) -> Client:
        """A fresh browser (or API caller) for one cell: the persona's session cookie or bearer token."""
        headers: dict[str, Any] = (
            {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[persona]}"} if persona in self.tokens else {}
        )
        client = Client(**headers)
        if persona in self.sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[persona]
        return client


def _session_for(user: User, *, verified: bool) -> str:
    """A signed-in session as the login (and, for staff, the second-factor step) leaves it."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[reauth.SESSION_AUTH_AT] = 4102444800  # password typed "just now" (2100), for re-auth pages
    if verified:
        store[mfa.SESSION_VERIFIED] = str(user.pk)
    store.create()
    assert store.session_key is not None
    return store.session_key


def _enrol(user: User) -> None:
    mfa.MFADevice.objects.create(user=user, secret=mfa.new_secret(), confirmed_at=clock.now())


def _offer(account: User, patient: Patient, motif: Motif, site: Site, hold: Appointment) -> WaitingListOffer:
    entry = WaitingListEntry.objects.create(
        account=account, patient=patient, practitioner=motif.practitioner, motif=motif, site=site
    )
    return WaitingListOffer.objects.create(
        entry=entry,
        hold=hold,
        practitioner=motif.practitioner,
        motif=motif,
        site=site,
        start_at=hold.start_at,
        expires_at=clock.now() + dt.timedelta(hours=2),
    )


def build(client: Client) -> World:
    org_a, org_b = f.organization("Cabinet A"), f.organization("Centre B")
    site_a, site_b = f.site(org_a), f.site(org_b, city="Villeurbanne", postcode="69100")
    doc1, doc2, doc3 = f.practitioner(site_a), f.practitioner(site_a), f.practitioner(site_b)
    for doc, s in ((doc1, site_a), (doc2, site_a), (doc3, site_b)):
        f.every_day(doc, s)
    motif_x = f.motif(doc1, name="Consultation X")
    f.motif(doc2, name="Consultation Y")
    motif_z = f.motif(doc3, name="Consultation Z")
    agenda_x, agenda_y, agenda_z = f.agenda(doc1), f.agenda(doc2), f.agenda(doc3)
    rule_x = OpeningRule.objects.filter(agenda=agenda_x).order_by("weekday").first()
    assert rule_x is not None
    absence_x = Absence.objects.create(
        agenda=agenda_x,
        practitioner=doc1,
        start_at=f.paris(2026, 3, 5, 10, 0),
        end_at=f.paris(2026, 3, 5, 11, 0),
        label="Formation X",
    )
    availability_refresh(practitioner_ids=[doc1.pk, doc2.pk, doc3.pk])

    users: dict[str, User] = {}
    p_user, patient, p_actor = f.patient_account(given_name="Alice")
    r_user, _holder, r_actor = f.patient_account(given_name="Bruno")
    o_user, other, _o_actor = f.patient_account(given_name="Chloé")
    users.update({PATIENT: p_user, RELATIVE: r_user, OTHER_PATIENT: o_user})
    relative = patient_create_for_account(
        actor=r_actor,
        relationship=Relationship.CHILD,
        family_name="Enfant",
        given_name="Léo",
        birth_date=dt.date(2015, 6, 1),
    )

    def at(hour: int, minute: int = 0) -> SlotRef:
        return SlotRef(doc1.pk, motif_x.pk, site_a.pk, TOMORROW.replace(hour=hour, minute=minute))

    appointment = appointment_book(actor=p_actor, slot=at(9), patient_id=patient.pk)
    relative_appointment = appointment_book(actor=r_actor, slot=at(9, 30), patient_id=relative.pk)
    hold = slot_hold(actor=p_actor, slot=at(10))
    relative_hold = slot_hold(actor=r_actor, slot=at(10, 30))
    offer_hold = slot_hold(actor=p_actor, slot=at(11))
    relative_offer_hold = slot_hold(actor=r_actor, slot=at(11, 30))
    offer = _offer(p_user, patient, motif_x, site_a, offer_hold)
    relative_offer = _offer(r_user, relative, motif_x, site_a, relative_offer_hold)
    # B has its own patient and appointment, so that "nothing of B" is a real claim.
    sec_b_actor = f.staff(org_b)
    from creneau.patients.services import patient_create_for_organization

    b_patient = patient_create_for_organization(
        actor=sec_b_actor,
        organization_id=org_b.pk,
        family_name="Bernard",
        given_name="Zoé",
        birth_date=dt.date(1990, 1, 1),
        phone="+33639980021",
    )
    appointment_book(
        actor=sec_b_actor,
        slot=SlotRef(doc3.pk, motif_z.pk, site_b.pk, TOMORROW.replace(hour=9)),
        patient_id=b_patient.pk,
    )

    def staff(org: Organization, role: str, **kw: Any) -> User:
        user = f.user_of(f.staff(org, role, **kw))
        assert user is not None
        _enrol(user)
        return user

    users[SEC_A] = staff(org_a, Role.SECRETARY, all_agendas=False)
    f.grant(users[SEC_A], agenda_x)
    users[SEC_A_NO] = staff(org_a, Role.SECRETARY, all_agendas=False)
    f.grant(users[SEC_A_NO], agenda_y)  # rights on the colleague's agenda, none on X
    users[DOC_OWN] = staff(org_a, Role.PRACTITIONER, practitioner=doc1)
    users[DOC_COLLEAGUE] = staff(org_a, Role.PRACTITIONER, practitioner=doc2)
    assert sec_b_actor.user is not None
    users[SEC_B] = f.user_of(sec_b_actor)
    _enrol(users[SEC_B])
    users[ADMIN_A] = staff(org_a, Role.ORG_ADMIN)
    users[SUSPENDED_STAFF] = staff(org_a, Role.SECRETARY, all_agendas=False)
    f.grant(users[SUSPENDED_STAFF], agenda_x)
    operator = User.objects.create_user("operator@example.invalid", "correct horse battery 42")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    _enrol(operator)
    users[OPERATOR] = operator

    export = BulkExport.objects.create(
        organization=org_a,
        requested_by=users[ADMIN_A],
        reason="Changement de logiciel",
        recipient="Éditeur",
        recipient_public_key="-----BEGIN PUBLIC KEY-----\nnone\n-----END PUBLIC KEY-----\n",
        marker=uuid.uuid4().hex,
    )

    from creneau.accounts import team
    from creneau.accounts.selectors import staff_actor

    invitation = team.invitation_create(
        actor=staff_actor(users[ADMIN_A]),
        organization_id=org_a.pk,
        email="nouvelle@example.invalid",
        role=Role.SECRETARY,
    )
    membership = Membership.objects.get(user=users[SEC_A], organization=org_a)
    passkey = Passkey.objects.create(
        user=users[PATIENT], name="Téléphone", credential_id="d29ybGQtcGFzc2tleQ", public_key=b"\xa5"
    )

    tokens: dict[str, str] = {}
    id_a, secret_a = register_client("Logiciel A")
    grant_a = grant(id_a, org_a)
    tokens[API_A] = token(client, id_a, secret_a)
    # Client A follows agenda X (a subscription to read and delete).
    subscription_create(
        actor=Actor(
            kind=ActorKind.API_CLIENT, channel=Channel.API, api_client_id=id_a, organization_ids=frozenset({org_a.pk})
        ),
        criteria=f"Appointment?actor=Practitioner/{agenda_x.practitioner_id}",
        endpoint="https://partner.example/hook",
    )
    id_b, secret_b = register_client("Logiciel B")
    grant(id_b, org_b)
    tokens[API_B] = token(client, id_b, secret_b)
    id_s, secret_s = register_client("Logiciel suspendu")
    grant(id_s, org_a)
    tokens[SUSPENDED_API] = token(client, id_s, secret_s)
    principal_suspend(principal=f"client:{id_s}", reason="detection:enumeration")

    # A passkey's holder (the patient) has passed it, as after any sign-in with a second factor.
    sessions = {
        persona: _session_for(user, verified=mfa.mfa_required_for(user) or Passkey.objects.filter(user=user).exists())
        for persona, user in users.items()
    }
    principal_suspend(principal=f"user:{users[SUSPENDED_STAFF].pk}", reason="operator")

    return World(
        org_a=org_a,
        org_b=org_b,
        site_a=site_a,
        site_b=site_b,
        agenda_x=agenda_x,
        agenda_y=agenda_y,
        agenda_z=agenda_z,
        motif_x=motif_x,
        rule_x=rule_x,
        absence_x=absence_x,
        patient=patient,
        relative=relative,
        other=other,
        appointment=appointment,
        relative_appointment=relative_appointment,
        hold=hold,
        relative_hold=relative_hold,
        offer=offer,
        relative_offer=relative_offer,
        export=export,
        grant_a=grant_a,
        membership=membership,
        invitation=invitation,
        passkey=passkey,
        users=users,
        sessions=sessions,
        tokens=tokens,
    )


def admin_object_id(model_key: str) -> str:
    """An existing row of the admin's model (`<app_label>_<model_name>`), or a made-up id if none."""
    from django.contrib import admin

    for model in admin.site._registry:
        if f"{model._meta.app_label}_{model._meta.model_name}" == model_key:
            pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
            return str(pk) if pk is not None else made_up()
    raise AssertionError(f"no admin for {model_key}")


def content_type_id_of(model: type) -> str:
    return str(ContentType.objects.get_for_model(model).pk)


def uid_of(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def actor_of(user: User) -> Actor:
    return Actor.for_patient(user)
