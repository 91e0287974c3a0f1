"""Messages are queued with the booking event, rendered per language, and delivered by the worker."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from pytest_django.fixtures import Settings

from creneau.booking import services
from creneau.core import clock
from creneau.core.errors import Conflict
from creneau.notifications import outbox, rendering
from creneau.notifications import services as notify
from creneau.notifications.models import Kind, MessageChannel, MessageStatus, OutboundMessage
from creneau.notifications.sms import LocmemSmsBackend

from . import factories as f
from .notif_support import book, messages, pending, ref, sms_gateway
from .personas import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_sms(settings: Settings) -> Iterator[None]:
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.LocmemSmsBackend"
    settings.CRENEAU_PUBLIC_URL = "https://rdv.creneau.example"
    LocmemSmsBackend.reset()
    yield
    LocmemSmsBackend.reset()


def test_booking_queues_confirmation_and_its_reminders(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 20, 10, 0))  # a Friday, booked 18 days ahead
    rows = messages(appointment=appt)
    kinds = sorted((m.kind, m.channel, m.send_after) for m in rows)
    utc = dt.UTC
    assert kinds == sorted(
        [
            (Kind.BOOKING_CONFIRMATION, MessageChannel.EMAIL, clock.now()),
            (Kind.BOOKING_CONFIRMATION, MessageChannel.SMS, clock.now()),
            (Kind.REMINDER, MessageChannel.EMAIL, dt.datetime(2026, 3, 13, 9, 0, tzinfo=utc)),  # 7 days before
            (Kind.REMINDER, MessageChannel.EMAIL, dt.datetime(2026, 3, 19, 9, 0, tzinfo=utc)),  # the day before
            (Kind.REMINDER, MessageChannel.SMS, dt.datetime(2026, 3, 18, 9, 0, tzinfo=utc)),  # 2 days before
        ]
    )
    confirmation = [m for m in rows if m.kind == Kind.BOOKING_CONFIRMATION]
    assert confirmation[0].code == confirmation[1].code  # one event, one code across channels
    assert all(m.user_id == world.user.pk for m in rows)


def test_reminders_already_past_are_not_scheduled(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 2, 10, 0))  # 3 hours ahead: even the day before has gone by
    assert not messages(appointment=appt, kind=Kind.REMINDER)
    soon = book(world, f.paris(2026, 3, 3, 10, 0))  # tomorrow: the day-before e-mail and SMS only
    assert {(m.channel, m.send_after) for m in messages(appointment=soon, kind=Kind.REMINDER)} == {
        (MessageChannel.EMAIL, f.paris(2026, 3, 2, 10, 0)),
        (MessageChannel.SMS, f.paris(2026, 3, 2, 10, 0)),
    }


def test_a_refused_booking_leaves_no_message(world: World) -> None:
    book(world, f.paris(2026, 3, 2, 10, 0))
    before = OutboundMessage.objects.count()
    _u, other, actor = f.patient_account(given_name="Bob")
    with pytest.raises(Conflict):
        book(world, f.paris(2026, 3, 2, 10, 0), actor=actor, patient=other)
    assert OutboundMessage.objects.count() == before


def test_confirming_a_hold_queues_the_confirmation(world: World) -> None:
    hold = services.slot_hold(actor=world.patient_actor, slot=ref(world, f.paris(2026, 3, 4, 9, 0)))
    assert not messages()
    services.hold_confirm(actor=world.patient_actor, hold_id=hold.pk, patient_id=world.patient.pk)
    assert {m.kind for m in messages(appointment_id=hold.pk)} == {Kind.BOOKING_CONFIRMATION, Kind.REMINDER}


def test_worker_sends_email_with_text_html_ics_and_code_and_sms_without_health_details(world: World) -> None:
    world.motif.name = "Suivi psoriasis"
    world.motif.save()
    book(world, f.paris(2026, 3, 2, 10, 0))
    assert outbox.deliver_due() == 2
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    row = OutboundMessage.objects.get(channel=MessageChannel.EMAIL, kind=Kind.BOOKING_CONFIRMATION)
    assert email.to == [world.user.email]
    assert email.subject == "Rendez-vous confirmé le 02/03/2026 à 10:00"
    assert world.doc.family_name not in email.subject and "psoriasis" not in email.subject
    assert "lundi 2 mars 2026 à 10:00" in email.body.lower() and "Suivi psoriasis" in email.body
    assert row.code in email.body
    assert email.extra_headers["Message-ID"] == f"<{row.pk}@rdv.creneau.example>"
    assert isinstance(email, EmailMultiAlternatives)
    content, mimetype = email.alternatives[0]
    html = str(content)
    assert mimetype == "text/html" and row.code in html and '<a href="https://rdv.creneau.example' in html
    name, ics, ics_type = email.attachments[0]
    assert name.endswith(".ics") and ics_type == "text/calendar"
    assert "DTSTART:20260302T090000Z" in ics and f"UID:{row.appointment_id}@rdv.creneau.example" in ics
    ((to, sms),) = LocmemSmsBackend.outbox.values()
    assert to == world.patient.phone
    assert "02/03 à 10h00" in sms and row.code in sms
    for health_detail in ("psoriasis", "Suivi", world.doc.family_name, world.doc.specialty.label_fr):
        assert health_detail not in sms
    assert OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 2


def test_messages_follow_the_account_language(world: World) -> None:
    world.user.language = "en"
    world.user.save()
    book(world, f.paris(2026, 3, 2, 10, 0))
    outbox.deliver_due()
    assert mail.outbox[0].subject == "Appointment confirmed on 2 Mar 2026 at 10:00"
    assert "Monday 2 March 2026 at 10:00" in mail.outbox[0].body
    assert "will never ask you for your password" in mail.outbox[0].body
    assert "/en/account/messages/" in mail.outbox[0].body


@pytest.mark.parametrize("language", ["fr", "en"])
# Web hooks to partners are not rendered from templates: their body is the resource (fhir.notify).
@pytest.mark.parametrize("kind", [k for k in Kind if k != Kind.PARTNER_NOTIFICATION])
def test_every_message_links_only_to_the_platform_and_carries_its_code(
    kind: Kind, language: str, settings: Settings
) -> None:
    settings.CRENEAU_PUBLIC_URL = "https://rdv.creneau.example"
    context = {
        "code": "ABCD-EFGH",
        "who": "Alice",
        "start": dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
        "old_start": dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC),
        "expires": dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC),
        "when": dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC),
        "practitioner": "Dr Jeanne Testeur",
        "motif": "Consultation",
        "site_name": "Cabinet",
        "address": "1 rue de Test, 69003 Lyon",
        "offer_url": rendering.page_url("notifications:offer", "x"),
        "reference": "INC-1",
    }
    rendered = rendering.render(kind, language, context)
    for text in (rendered.text, rendered.html, rendered.sms or ""):
        for url in re.findall(r"https?://[^\s<>\"']+", text):
            assert url.startswith("https://rdv.creneau.example/")
    assert "ABCD-EFGH" in rendered.text and "ABCD-EFGH" in rendered.html
    assert rendered.sms is None or "ABCD-EFGH" in rendered.sms
    assert rendered.sms is None or len(rendered.sms) <= 320  # two SMS segments at most


def test_a_template_linking_elsewhere_is_refused(settings: Settings) -> None:
    settings.CRENEAU_PUBLIC_URL = "https://rdv.creneau.example"
    with pytest.raises(rendering.UnsafeLink):
        rendering.check_links("Pay here: https://rdv.creneau.example.evil.test/pay")


def test_cancellation_withdraws_reminders_and_tells_the_patient(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 5, 10, 0))
    services.appointment_cancel(actor=world.patient_actor, appointment_id=appt.pk)
    assert not pending(appointment=appt, kind=Kind.REMINDER)
    assert {m.channel for m in pending(kind=Kind.CANCELLATION)} == {MessageChannel.EMAIL, MessageChannel.SMS}
    outbox.deliver_due()
    cancellation = [m for m in mail.outbox if "annulé" in m.subject]
    assert len(cancellation) == 1
    assert "METHOD:CANCEL" in cancellation[0].attachments[0][1]


def test_a_reminder_of_an_appointment_cancelled_meanwhile_is_not_sent(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 5, 10, 0))
    reminder = pending(appointment=appt, kind=Kind.REMINDER)[0]
    type(appt).objects.filter(pk=appt.pk).update(status="cancelled")  # cancelled behind the hooks' back
    with clock.frozen_at(reminder.send_after):
        outbox.deliver_ids([reminder.pk])
    reminder.refresh_from_db()
    assert reminder.status == MessageStatus.CANCELLED


def test_moving_sends_one_move_message_and_reminders_follow_the_new_time(world: World) -> None:
    appt = book(world, f.paris(2026, 3, 5, 10, 0))
    new = services.appointment_reschedule(
        actor=world.patient_actor, appointment_id=appt.pk, new_start=f.paris(2026, 3, 6, 11, 0)
    )
    assert not pending(appointment=appt, kind=Kind.REMINDER)
    assert {m.send_after for m in pending(appointment=new, kind=Kind.REMINDER)} == {
        new.start_at - dt.timedelta(days=1),  # the day before at the same time (no DST change here)
    }
    outbox.deliver_due()
    moved = [m for m in mail.outbox if "déplacé" in m.subject]
    calendar = moved[0].attachments[0][1]
    # Same calendar event as the first confirmation, newer sequence: the calendar moves it in place.
    assert f"UID:{appt.pk}@rdv.creneau.example" in calendar and "SEQUENCE:1" in calendar
    assert "DTSTART:20260306T100000Z" in calendar
    assert (
        len(moved) == 1
        and "jeudi 5 mars 2026 à 10:00" in moved[0].body.lower()
        and "vendredi 6 mars" in moved[0].body.lower()
    )


def test_phone_booking_for_a_patient_without_account_uses_recorded_contact(world: World) -> None:
    services.appointment_book(
        actor=world.secretary, slot=ref(world, f.paris(2026, 3, 2, 10, 0)), patient_id=world.caller.pk
    )
    rows = pending(kind=Kind.BOOKING_CONFIRMATION)
    assert [(m.channel, m.user_id, m.to_address) for m in rows] == [(MessageChannel.SMS, None, "+33639980002")]


def test_security_events_and_incident_notices_are_emailed(world: World) -> None:
    notify.notify_new_login(user=world.user)
    notify.notify_password_changed(user=world.user)
    notify.notify_mfa_changed(user=world.user)
    assert notify.notify_incident(actor=world.secretary, user_ids=[world.user.pk], reference="INC-7") == 1
    assert notify.notify_incident(actor=world.secretary, user_ids=[world.user.pk], reference="INC-7") == 0
    outbox.deliver_due()
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == sorted(
        [
            "Nouvelle connexion à votre compte",
            "Le mot de passe de votre compte a changé",
            "La validation en deux étapes de votre compte a changé",
            "Information importante sur vos données",
        ]
    )
    assert not LocmemSmsBackend.calls
    assert all("INC-7" in m.body for m in mail.outbox if m.subject.startswith("Information"))


def test_gateway_outage_is_retried_with_growing_backoff_then_shown_as_failed(world: World, settings: Settings) -> None:
    settings.CRENEAU_OUTBOX_MAX_ATTEMPTS = 3
    with sms_gateway(settings) as gateway:
        gateway.fail_with = 503
        book(world, f.paris(2026, 3, 2, 10, 0))
        sms = pending(kind=Kind.BOOKING_CONFIRMATION, channel=MessageChannel.SMS)[0]
        delays = []
        for _ in range(3):
            sms.refresh_from_db()
            with clock.frozen_at(sms.send_after):
                outbox.deliver_ids([sms.pk])
            sms.refresh_from_db()
            delays.append(sms.send_after)
        assert sms.status == MessageStatus.FAILED
        assert sms.last_error == "gateway HTTP 503"
        assert len(gateway.requests) == 3
        assert delays[1] - delays[0] > dt.timedelta(seconds=settings.CRENEAU_OUTBOX_RETRY_BASE_SECONDS)
        assert not gateway.delivered


def test_permanent_refusal_fails_at_once_and_an_operator_can_retry(
    world: World, settings: Settings, admin_client: Client
) -> None:
    with sms_gateway(settings) as gateway:
        gateway.fail_with = 400
        book(world, f.paris(2026, 3, 2, 10, 0))
        outbox.deliver_due()
        sms = OutboundMessage.objects.get(kind=Kind.BOOKING_CONFIRMATION, channel=MessageChannel.SMS)
        assert sms.status == MessageStatus.FAILED and sms.attempts == 1
        page = admin_client.get("/admin/notifications/outboundmessage/?status__exact=failed")
        assert page.status_code == 200
        content = page.content.decode()
        assert str(sms.pk) in content and "gateway HTTP 400" in content
        assert world.patient.phone not in content and world.user.email not in content
        gateway.fail_with = None
        admin_client.post(
            "/admin/notifications/outboundmessage/", {"action": "retry", "_selected_action": [str(sms.pk)]}
        )
        outbox.deliver_due()
        sms.refresh_from_db()
        assert sms.status == MessageStatus.SENT and len(gateway.delivered) == 1
        assert gateway.requests[-1]["auth"] == "Bearer test-token"


def test_messages_about_a_child_go_to_the_parent_account_and_phone(world: World) -> None:
    from creneau.patients.services import patient_create_for_account

    child = patient_create_for_account(
        actor=world.patient_actor,
        relationship="child",
        family_name="Patiente",
        given_name="Léo",
        birth_date=dt.date(2018, 6, 1),
    )
    book(world, f.paris(2026, 3, 2, 10, 0), patient=child)
    outbox.deliver_due()
    (email,) = mail.outbox
    assert email.to == [world.user.email] and "Le rendez-vous de Léo est confirmé" in email.body
    ((to, sms),) = LocmemSmsBackend.outbox.values()
    assert to == world.patient.phone and "Léo" not in sms


def test_html_part_escapes_text_and_links_only_full_platform_urls(settings: Settings) -> None:
    settings.CRENEAU_PUBLIC_URL = "https://creneau.com"
    rendered = rendering.render(Kind.INCIDENT_NOTICE, "en", {"code": "ABCD-EFGH", "reference": "<script>x</script>"})
    assert "(reference <script>x</script>)" in rendered.text  # plain text is not HTML-escaped
    assert "<script>" not in rendered.html and "(reference &lt;script&gt;x&lt;/script&gt;)" in rendered.html
    # The footer names the bare domain: it stays text, it is not turned into a link.
    assert "only lead to creneau.com." in rendered.html
    assert rendered.html.count("<a href=") == rendered.text.count("https://creneau.com/")


def test_system_checks_guard_the_public_url_and_production_channels(settings: Settings) -> None:
    from creneau.notifications import checks

    settings.CRENEAU_PUBLIC_URL = "rdv.creneau.example/app"
    assert [m.id for m in checks.check_public_url()] == ["notifications.E001"]
    settings.CRENEAU_PUBLIC_URL = "http://rdv.creneau.example"
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.FileSmsBackend"
    assert checks.check_public_url() == []
    assert [m.id for m in checks.check_production_channels()] == ["notifications.W002", "notifications.W003"]
    settings.CRENEAU_PUBLIC_URL = "https://rdv.creneau.example"
    settings.CRENEAU_SMS_BACKEND = "creneau.notifications.sms.HttpGatewaySmsBackend"
    assert checks.check_production_channels() == []


def test_calendar_attachments_parse_as_rfc5545(world: World) -> None:
    import icalendar

    appt = book(world, f.paris(2026, 3, 5, 10, 0))
    services.appointment_cancel(actor=world.patient_actor, appointment_id=appt.pk)
    outbox.deliver_due()
    parsed = {str(c["METHOD"]): c for c in (icalendar.Calendar.from_ical(m.attachments[0][1]) for m in mail.outbox)}
    (booked_event,) = parsed["PUBLISH"].walk("VEVENT")
    (cancelled_event,) = parsed["CANCEL"].walk("VEVENT")
    assert booked_event.decoded("DTSTART") == appt.start_at == cancelled_event.decoded("DTSTART")
    assert str(booked_event["UID"]) == str(cancelled_event["UID"])
    assert str(cancelled_event["STATUS"]) == "CANCELLED"
    assert int(str(cancelled_event["SEQUENCE"])) > int(str(booked_event["SEQUENCE"]))
    assert "Consultation" not in str(booked_event["SUMMARY"])  # no visit reason in synced calendars


def test_a_booking_writes_the_tasks_that_deliver_its_messages_in_its_own_transaction(world: World) -> None:
    """Messages and their wake-up tasks commit together: no extra commit per booking, and no window in
    which a committed message waits for a task written afterwards (this test's transaction never
    commits, so a task written after the commit would not be here)."""
    from django_tasks_db.models import DBTaskResult

    appointment = book(world, f.paris(2026, 3, 20, 10, 0))
    queued = {str(m.pk) for m in OutboundMessage.objects.filter(appointment_id=appointment.pk)}
    tasks = DBTaskResult.objects.filter(task_path__endswith="deliver_messages")
    woken = {i for t in tasks for i in t.args_kwargs["kwargs"]["message_ids"]}
    assert queued and woken == queued
    # The confirmation (e-mail and SMS) at once, each reminder at its own time: one task each.
    reminders = OutboundMessage.objects.filter(appointment_id=appointment.pk, kind=Kind.REMINDER)
    assert len(tasks) == 1 + len({m.send_after for m in reminders})


def test_a_booking_that_fails_leaves_neither_messages_nor_tasks(world: World) -> None:
    from django_tasks_db.models import DBTaskResult

    book(world, f.paris(2026, 3, 20, 10, 0))
    before = (OutboundMessage.objects.count(), DBTaskResult.objects.count())
    with pytest.raises(Conflict):
        book(world, f.paris(2026, 3, 20, 10, 0), actor=f.patient_account()[2])  # taken
    assert (OutboundMessage.objects.count(), DBTaskResult.objects.count()) == before
