"""Every account write is a service that writes its audit row (identifiers only) in its transaction,
writes nothing when it refuses, and has its messages queued in the outbox (never sent in the request);
secret links are not stored in the outbox."""

from __future__ import annotations

import inspect
import re

import pyotp
import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from creneau.accounts import events, mfa, services
from creneau.accounts.models import User
from creneau.audit.models import AuditEvent
from creneau.core import clock
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.errors import PermissionDenied, PolicyViolation
from creneau.notifications.account import SECRET
from creneau.notifications.models import Kind, MessageStatus, OutboundMessage

from . import factories as f
from .notif_support import deliver, run_tasks

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery 42"
ANONYMOUS = Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip="192.0.2.7")

# (service, audit via, audit action, object type): the enumeration the issue asks for.
WRITE_SERVICES = [
    ("account_signup", "account_signup", "create", "account"),
    ("account_email_verify", "account_email_verify", "update", "account"),
    ("account_sign_in_record", "login", "sign_in", "account"),
    ("password_change", "password_change", "update", "account"),
    # The request only enqueues (constant shape); its task half writes the row.
    ("password_reset_request", "password_reset_request", "create", "password_reset"),
    ("password_reset_send", "password_reset_request", "create", "password_reset"),
    ("password_reset_complete", "password_reset", "update", "account"),
    ("account_sign_out_everywhere", "sign_out_everywhere", "sign_out", "account"),
    ("mfa_enable", "mfa_enable", "create", "mfa_device"),
    ("mfa_disable", "mfa_disable", "delete", "mfa_device"),
    ("recovery_codes_regenerate", "recovery_codes_regenerate", "create", "recovery_codes"),
    ("mfa_code_check", "recovery_code_use", "update", "recovery_code"),
    ("account_sign_out", "logout", "sign_out", "account"),
    ("account_close", "account_erase", "delete", "account"),
    ("account_operator_update", "account_operator_update", "update", "account"),
    ("account_operator_delete", "account_operator_delete", "delete", "account"),
    ("membership_operator_save", "membership_operator_save", "create", "membership"),
    ("membership_operator_delete", "membership_operator_delete", "delete", "membership"),
    # Passkeys (tests/test_passkeys.py drives them through the pages).
    ("passkey_register", "passkey_register", "create", "passkey"),
    ("passkey_remove", "passkey_remove", "delete", "passkey"),
    ("passkey_sign_in_record", "passkey_sign_in", "sign_in", "account"),
]


def audit(via: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(via=via).order_by("id"))


def kinds(user: User) -> list[str]:
    return list(OutboundMessage.objects.filter(user_id=user.pk).order_by("created_at").values_list("kind", flat=True))


def no_address_in_trail(*emails: str) -> None:
    for event in AuditEvent.objects.all():
        text = f"{event.object_id} {event.changes} {event.via} {event.principal}"
        for email in emails:
            assert email not in text


@pytest.fixture
def user() -> User:
    return User.objects.create_user("alice@example.invalid", PASSWORD)


def test_every_account_write_service_exists_and_audits(user: User) -> None:
    """The list above is complete: each public service of accounts.services (its own and those of the
    modules it re-exports: passwords, second factor, operators, the reset's worker half) is in it."""
    public = {name for name in services.__all__ if inspect.isfunction(getattr(services, name))}
    assert public - {"normalize_email"} == {row[0] for row in WRITE_SERVICES}


def test_signing_out_is_audited(user: User) -> None:
    client = Client()
    client.force_login(user)
    client.post(reverse("accounts:logout"))
    [event] = audit("logout")
    assert (event.action, event.object_id) == ("sign_out", str(user.pk))
    Client().post(reverse("accounts:logout"))  # nobody signed in: nothing to record
    assert len(audit("logout")) == 1


def test_an_operator_changing_an_account_in_the_admin_is_audited(user: User) -> None:
    operator = User.objects.create_superuser("op@example.invalid", PASSWORD)
    client = Client()
    client.force_login(operator)
    url = reverse("admin:accounts_user_change", args=[user.pk])
    form = {"is_active": "", "is_staff": "", "language": "en"}
    form.update({f"memberships-{k}": v for k, v in {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0"}.items()})
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert (user.is_active, user.language) == (False, "en")
    [event] = audit("account_operator_update")
    assert event.changes == {"is_active": [True, False], "language": ["fr", "en"]}
    assert event.principal == f"user:{operator.pk}" and event.object_id == str(user.pk)
    client.post(url, form)  # the same values again: nothing changed, nothing recorded
    assert len(audit("account_operator_update")) == 1


def test_an_operator_cannot_change_an_address_through_the_service(user: User) -> None:
    operator = Actor.for_operator(User.objects.create_superuser("op@example.invalid", PASSWORD))
    with pytest.raises(PolicyViolation):
        services.account_operator_update(actor=operator, user=user, values={"email": "x@example.invalid"})
    assert audit("account_operator_update") == []
    user_id = user.pk
    services.account_operator_delete(actor=operator, user=user)
    assert not User.objects.filter(pk=user_id).exists()
    [event] = audit("account_operator_delete")
    assert event.object_id == str(user_id)


def test_sign_up_creates_an_inactive_account_audits_it_and_queues_the_link() -> None:
    services.account_signup(actor=ANONYMOUS, email="Nina@Example.invalid", password=PASSWORD, language="en")
    user = User.objects.by_email("nina@example.invalid").get()
    assert not user.is_active and user.language == "en"
    [event] = audit("account_signup")
    assert (event.action, event.object_type, event.object_id, event.outcome) == (
        "create",
        "account",
        str(user.pk),
        "ok",
    )
    assert event.ip == "192.0.2.7" and event.principal == "patient:anonymous"
    [message] = OutboundMessage.objects.filter(user_id=user.pk)
    assert message.kind == Kind.ACCOUNT_VERIFICATION and message.status == MessageStatus.PENDING
    assert not mail.outbox
    no_address_in_trail("nina@example.invalid")


def test_sign_up_with_a_taken_address_writes_to_its_owner_and_creates_nothing(user: User) -> None:
    services.account_signup(actor=ANONYMOUS, email="ALICE@example.invalid", password="another one 1234", language="fr")
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    [event] = audit("account_signup")
    assert (event.object_id, event.outcome) == (str(user.pk), "denied")
    assert kinds(user) == [Kind.ACCOUNT_EXISTS]
    no_address_in_trail("alice@example.invalid")


def test_the_verification_link_is_not_stored_and_works_once_sent() -> None:
    services.account_signup(actor=ANONYMOUS, email="nina@example.invalid", password=PASSWORD, language="fr")
    user = User.objects.by_email("nina@example.invalid").get()
    stored = OutboundMessage.objects.get(user_id=user.pk)
    assert SECRET in stored.body_text and SECRET in stored.body_html
    deliver()
    [sent] = mail.outbox
    assert SECRET not in sent.body
    token = re.search(r"/verify/[^/]+/([^/\s]+)/", str(sent.body)).group(1)  # type: ignore[union-attr]
    assert default_token_generator.check_token(user, token)
    assert SECRET in OutboundMessage.objects.get(pk=stored.pk).body_text  # still not stored once sent


def test_verification_activates_and_audits_a_forged_link_writes_nothing() -> None:
    user = User.objects.create_user("slow@example.invalid", PASSWORD, is_active=False)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    assert services.account_email_verify(actor=ANONYMOUS, uidb64=uid, token="abc-def") is None
    assert services.account_email_verify(actor=ANONYMOUS, uidb64="bm9wZQ", token="abc-def") is None
    assert audit("account_email_verify") == []
    token = default_token_generator.make_token(user)
    assert services.account_email_verify(actor=ANONYMOUS, uidb64=uid, token=token) == user
    user.refresh_from_db()
    assert user.is_active
    [event] = audit("account_email_verify")
    assert event.object_id == str(user.pk) and event.changes == {"is_active": [False, True]}


def test_a_sign_in_is_audited_and_only_a_new_browser_is_notified(user: User) -> None:
    actor = Actor.for_patient(user)
    services.account_sign_in_record(actor=actor, user=user, new_device=True)
    services.account_sign_in_record(actor=actor, user=user, new_device=False)
    assert [e.changes for e in audit("login")] == [{"new_device": True}, {"new_device": False}]
    assert kinds(user) == [Kind.SECURITY_NEW_LOGIN]


def test_a_password_change_is_audited_and_notified(user: User) -> None:
    services.password_change(actor=Actor.for_patient(user), user=user, new_password="a brand new passphrase 9")
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase 9")
    [event] = audit("password_change")
    assert (event.action, event.object_id, event.principal) == ("update", str(user.pk), f"user:{user.pk}")
    assert kinds(user) == [Kind.SECURITY_PASSWORD_CHANGED]


def test_a_reset_request_does_nothing_in_the_request_but_enqueue_a_task(user: User) -> None:
    assert services.password_reset_request(actor=ANONYMOUS, email="alice@example.invalid")
    assert services.password_reset_request(actor=ANONYMOUS, email="nobody@example.invalid")
    assert not OutboundMessage.objects.exists() and audit("password_reset_request") == []
    from django_tasks_db.models import DBTaskResult

    args = [str(r.args_kwargs) for r in DBTaskResult.objects.all()]
    assert len(args) == 2 and not any("@" in a for a in args)  # blind indexes, no address
    assert run_tasks() == 2
    [event] = audit("password_reset_request")
    assert (event.object_type, event.object_id, event.ip) == ("password_reset", str(user.pk), "192.0.2.7")
    assert kinds(user) == [Kind.PASSWORD_RESET]
    stored = OutboundMessage.objects.get(user_id=user.pk)
    assert SECRET in stored.body_text
    deliver()
    [sent] = mail.outbox
    assert sent.to == ["alice@example.invalid"] and "/password/reset/" in sent.body and SECRET not in sent.body
    no_address_in_trail("alice@example.invalid")


def test_a_reset_for_an_inactive_account_sends_nothing() -> None:
    User.objects.create_user("slow@example.invalid", PASSWORD, is_active=False)
    services.password_reset_request(actor=ANONYMOUS, email="slow@example.invalid")
    run_tasks()
    assert not OutboundMessage.objects.exists() and audit("password_reset_request") == []


def test_a_completed_reset_is_audited_and_notified(user: User) -> None:
    services.password_reset_complete(actor=ANONYMOUS, user=user, new_password="a brand new passphrase 9")
    [event] = audit("password_reset")
    assert event.object_id == str(user.pk) and event.changes == {"password": "changed"}
    assert kinds(user) == [Kind.SECURITY_PASSWORD_CHANGED]


def test_signing_out_everywhere_is_audited(user: User) -> None:
    before = user.password
    services.account_sign_out_everywhere(actor=Actor.for_patient(user), user=user, password=PASSWORD)
    user.refresh_from_db()
    assert user.password != before and user.check_password(PASSWORD)
    [event] = audit("sign_out_everywhere")
    assert (event.action, event.object_id) == ("sign_out", str(user.pk))


def enable(user: User) -> tuple[str, list[str]]:
    secret = mfa.new_secret()
    codes = services.mfa_enable(
        actor=Actor.for_patient(user), user=user, secret=secret, code=pyotp.TOTP(secret).at(clock.now())
    )
    assert codes is not None
    return secret, codes


def test_enabling_a_second_factor_is_audited_a_wrong_code_writes_nothing(user: User) -> None:
    secret = mfa.new_secret()
    assert services.mfa_enable(actor=Actor.for_patient(user), user=user, secret=secret, code="000000") is None
    assert audit("mfa_enable") == [] and kinds(user) == [] and not mfa.has_mfa(user)
    enable(user)
    enable(user)  # replacing the authenticator
    first, second = audit("mfa_enable")
    device = mfa.MFADevice.objects.get(user=user)
    assert second.object_id == str(device.pk) and second.object_type == "mfa_device"
    assert (first.changes["replaced"], second.changes["replaced"]) == (False, True)
    assert kinds(user) == [Kind.SECURITY_MFA_CHANGED] * 2


def test_turning_the_second_factor_off_leaves_a_trace(user: User) -> None:
    enable(user)
    device = mfa.MFADevice.objects.get(user=user)
    services.mfa_disable(actor=Actor.for_patient(user), user=user)
    assert not mfa.has_mfa(user) and not mfa.RecoveryCode.objects.filter(user=user).exists()
    [event] = audit("mfa_disable")
    assert (event.action, event.object_id, event.changes) == ("delete", str(device.pk), {"recovery_codes_deleted": 10})
    assert kinds(user) == [Kind.SECURITY_MFA_CHANGED] * 2


def test_staff_cannot_turn_their_second_factor_off_and_nothing_is_written() -> None:
    staff = f.staff(f.organization())
    assert staff.user is not None
    enable(f.user_of(staff))
    messages_before = OutboundMessage.objects.count()
    with pytest.raises(PolicyViolation):
        services.mfa_disable(actor=staff, user=f.user_of(staff))
    assert mfa.has_mfa(staff.user)
    assert audit("mfa_disable") == [] and OutboundMessage.objects.count() == messages_before


def test_new_recovery_codes_are_audited_and_the_old_ones_stop_working(user: User) -> None:
    _secret, old = enable(user)
    new = services.recovery_codes_regenerate(actor=Actor.for_patient(user), user=user)
    [event] = audit("recovery_codes_regenerate")
    assert event.changes == {"count": 10} and event.object_id == str(user.pk)
    assert all(code not in str(event.changes) for code in new)
    actor = Actor.for_patient(user)
    assert not services.mfa_code_check(actor=actor, user=user, code=old[0])
    assert audit("recovery_code_use") == []
    assert services.mfa_code_check(actor=actor, user=user, code=new[0])
    [used] = audit("recovery_code_use")
    assert used.changes == {"used": True, "remaining": 9} and used.principal == f"user:{user.pk}"
    assert not services.mfa_code_check(actor=actor, user=user, code=new[0])  # once only
    assert len(audit("recovery_code_use")) == 1


def test_closing_an_account_scrubs_it_and_audits_by_id(user: User) -> None:
    enable(user)
    services.account_close(actor=Actor.for_patient(user), user=user)
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password() and user.email.endswith("@erased.invalid")
    assert not mfa.has_mfa(user)
    [event] = audit("account_erase")
    assert event.object_id == str(user.pk)
    no_address_in_trail("alice@example.invalid")


def test_the_account_events_all_have_a_listener(settings: object) -> None:
    table = settings.CRENEAU_EVENT_HANDLERS  # type: ignore[attr-defined]
    assert all(table.get(name) for name in events.ACCOUNT_EVENTS)


def test_accounts_does_not_import_notifications() -> None:
    from pathlib import Path

    import creneau.accounts

    root = Path(creneau.accounts.__file__).parent
    offenders = [p.name for p in root.rglob("*.py") if "creneau.notifications" in p.read_text()]
    assert offenders == []


def test_an_operator_editing_memberships_in_the_admin_goes_through_the_audited_services(user: User) -> None:
    """Add, change and delete a membership on its admin page and in the account's inline: one audit
    row each (who, which organization, from what to what); an unchanged save writes nothing."""
    from creneau.accounts.models import Membership, Role

    from . import factories as f

    org = f.organization("Cabinet Opérateur")
    other = f.organization("Centre Autre")
    doc = f.practitioner(f.site(org))
    operator = User.objects.create_superuser("op@example.invalid", PASSWORD)
    client = Client()
    client.force_login(operator)
    response = client.post(
        reverse("admin:accounts_membership_add"),
        {"user": str(user.pk), "organization": str(org.pk), "role": "secretary"},
    )
    assert response.status_code == 302, response.content[:2000]
    membership = Membership.objects.get(user=user)
    [created] = audit("membership_operator_save")
    assert (created.action, created.object_id, created.principal) == (
        "create",
        str(membership.pk),
        f"user:{operator.pk}",
    )
    assert created.changes["role"] == [None, "secretary"] and created.changes["organization_id"] == [None, str(org.pk)]

    change = reverse("admin:accounts_membership_change", args=[membership.pk])
    form = {"organization": str(org.pk), "role": "practitioner", "practitioner": str(doc.pk)}
    assert client.post(change, form).status_code == 302
    updated = audit("membership_operator_save")[-1]
    assert updated.action == "update" and updated.changes["role"] == ["secretary", "practitioner"]
    assert updated.changes["practitioner_id"] == [None, str(doc.pk)] and "organization_id" not in updated.changes
    client.post(change, form)  # the same values again: nothing recorded
    assert len(audit("membership_operator_save")) == 2

    # The account page's inline: a second membership added, then the first one deleted.
    url = reverse("admin:accounts_user_change", args=[user.pk])
    inline = {
        "is_active": "on",
        "language": "fr",
        "memberships-TOTAL_FORMS": "2",
        "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": str(membership.pk),
        "memberships-0-user": str(user.pk),
        "memberships-0-organization": str(org.pk),
        "memberships-0-role": "practitioner",
        "memberships-0-practitioner": str(doc.pk),
        "memberships-0-DELETE": "on",
        "memberships-1-user": str(user.pk),
        "memberships-1-organization": str(other.pk),
        "memberships-1-role": "org_admin",
    }
    response = client.post(url, inline)
    assert response.status_code == 302, response.content[:3000]
    assert list(Membership.objects.filter(user=user).values_list("organization_id", "role")) == [
        (other.pk, Role.ORG_ADMIN)
    ]
    added = audit("membership_operator_save")[-1]
    assert added.action == "create" and added.changes["role"] == [None, "org_admin"]
    [deleted] = audit("membership_operator_delete")
    assert deleted.object_id == str(membership.pk) and deleted.changes["role"] == ["practitioner", None]

    response = client.post(reverse("admin:accounts_membership_delete", args=[added.object_id]), {"post": "yes"})
    assert response.status_code == 302 and not Membership.objects.filter(user=user).exists()
    assert len(audit("membership_operator_delete")) == 2


def test_only_an_operator_may_use_the_membership_services(user: User) -> None:
    from creneau.accounts.models import Membership

    from . import factories as f

    staff = f.staff(f.organization("Cabinet"), "org_admin")
    membership = Membership(user=user, organization_id=next(iter(staff.organization_ids)), role="secretary")
    with pytest.raises(PermissionDenied):
        services.membership_operator_save(actor=staff, membership=membership)
    assert not Membership.objects.filter(user=user).exists() and audit("membership_operator_save") == []
