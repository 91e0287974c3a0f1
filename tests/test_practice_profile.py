"""The practice profile: phone (checked with phonenumbers), fees and convention sector, Carte Vitale,
tiers payant, payment methods, access (wheelchair, floor, door code, transport, parking) and a photo
checked by its content. Shown on the public page; the phone also where online cancellation has ended."""

from __future__ import annotations

import datetime as dt
import struct
import types
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from creneau.audit.models import AuditEvent
from creneau.booking import services as booking
from creneau.booking.services import SlotRef
from creneau.core import clock
from creneau.core.errors import InvalidInput, NotFound
from creneau.directory import services as directory
from creneau.directory.images import NotAnImage, check_image
from creneau.directory.models import Practitioner, PractitionerPhoto, Site

from . import factories as f
from .web_support import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _french() -> Iterator[None]:
    """Service messages in the default language, whatever an earlier test left active."""
    with translation.override("fr"):
        yield


def _get(world: Any, name: str) -> Any:
    return world[name] if isinstance(world, dict) else getattr(world, name)


@pytest.fixture
def w(world: Any) -> types.SimpleNamespace:
    names = ("org", "site", "doc", "agenda", "motif", "user", "patient", "patient_actor", "secretary", "outsider")
    return types.SimpleNamespace(**{n: _get(world, n) for n in names})


def png(width: int = 2, height: int = 3, *, text: bytes = b"") -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + (chunk(b"tEXt", text) if text else b"")
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg_with_exif() -> bytes:
    exif = b"Exif\x00\x00GPS 45.76N 4.84E"
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 40, 60, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app1 + sof + sos + b"\x12\x34\x56" + b"\xff\xd9"


def _audits(via: str) -> int:
    return AuditEvent.objects.filter(via=via).count()


# --- phone and site access ------------------------------------------------------------------------------


def test_an_invalid_phone_is_refused_with_a_clear_message_and_nothing_changes(w: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInput) as exc:
        directory.site_profile_update(actor=w.secretary, agenda_id=w.agenda.pk, site_id=w.site.pk, phone="01 23")
    assert "numéro de téléphone n'est pas valide" in str(exc.value.message)
    assert Site.objects.get(pk=w.site.pk).phone == ""
    assert _audits("site_profile_update") == 0


def test_a_french_phone_is_stored_in_e164_and_shown_the_french_way(w: types.SimpleNamespace) -> None:
    site = directory.site_profile_update(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        site_id=w.site.pk,
        phone="04 78 12 34 56",
        wheelchair_access=True,
        floor="2e étage, ascenseur",
        door_code="4821B",
        transport="Métro B, arrêt Saxe-Gambetta",
        parking="Parking Saxe, 50 m",
    )
    assert site.phone == "+33478123456" and site.phone_display == "04 78 12 34 56"
    event = AuditEvent.objects.get(via="site_profile_update")
    assert "4821B" not in str(event.changes)  # the door code: changed or not, never its value


def test_staff_without_the_right_or_outside_cannot_change_the_profile(w: types.SimpleNamespace) -> None:
    with pytest.raises(NotFound):
        directory.site_profile_update(actor=w.outsider, agenda_id=w.agenda.pk, site_id=w.site.pk, phone="0478123456")
    with pytest.raises(NotFound):
        directory.practitioner_profile_update(actor=w.outsider, agenda_id=w.agenda.pk, fees="30 €")
    assert Practitioner.objects.get(pk=w.doc.pk).fees == ""


def test_optam_outside_sector_2_and_unknown_payment_methods_are_refused(w: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInput):
        directory.practitioner_profile_update(
            actor=w.secretary, agenda_id=w.agenda.pk, convention_sector="1", optam=True
        )
    with pytest.raises(InvalidInput):
        directory.practitioner_profile_update(actor=w.secretary, agenda_id=w.agenda.pk, payment_methods=["bitcoin"])
    doc = Practitioner.objects.get(pk=w.doc.pk)
    assert (doc.convention_sector, doc.optam, doc.payment_methods) == ("", False, [])
    doc = directory.practitioner_profile_update(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        convention_sector="2",
        optam=True,
        fees="Consultation 50 €",
        accepts_carte_vitale=True,
        tiers_payant=True,
        payment_methods=["card", "cash"],
    )
    assert (doc.convention_sector, doc.optam, doc.payment_methods) == ("2", True, ["card", "cash"])
    assert _audits("practitioner_profile_update") == 1


# --- photo ------------------------------------------------------------------------------------------------


def test_images_are_recognised_by_content_and_metadata_dropped() -> None:
    found = check_image(png(text=b"Author\x00Dr Secret"))
    assert (found.content_type, found.width, found.height) == ("image/png", 2, 3)
    assert b"Dr Secret" not in found.data
    jpeg = check_image(jpeg_with_exif())
    assert (jpeg.content_type, jpeg.width, jpeg.height) == ("image/jpeg", 60, 40)
    assert b"GPS" not in jpeg.data and jpeg.data.endswith(b"\xff\xd9")
    broken = bytearray(png())
    broken[20] ^= 0xFF  # a byte of the header: its CRC no longer matches
    for bad in (b"<svg onload=alert(1)>", b"GIF89a....", bytes(broken), png()[:-6], b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(NotAnImage):
            check_image(bad)


def test_a_file_that_is_not_an_image_changes_nothing(w: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInput) as exc:
        directory.practitioner_photo_set(actor=w.secretary, agenda_id=w.agenda.pk, data=b"%PDF-1.7 not a photo")
    assert str(exc.value.message) == "Ce fichier n'est pas une image JPEG, PNG ou WebP."
    assert not PractitionerPhoto.objects.exists() and _audits("practitioner_photo_set") == 0


def test_the_photo_is_served_with_its_real_type_and_shown_on_the_public_page(w: types.SimpleNamespace) -> None:
    client = signed_in(w.secretary.user)
    upload = SimpleUploadedFile("portrait.exe", png(), content_type="application/octet-stream")
    response = client.post(reverse("web:staff_photo", args=[w.agenda.pk]), {"photo": upload})
    assert response.status_code == 302
    photo = Client().get(reverse("web:practitioner_photo", args=[w.doc.pk]))
    assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
    assert photo["X-Content-Type-Options"] == "nosniff" and "sandbox" in photo["Content-Security-Policy"]
    page = Client().get(reverse("web:practitioner", args=[w.doc.pk])).content.decode()
    assert reverse("web:practitioner_photo", args=[w.doc.pk]) in page
    assert client.post(reverse("web:staff_photo", args=[w.agenda.pk]), {"action": "remove"}).status_code == 302
    assert Client().get(reverse("web:practitioner_photo", args=[w.doc.pk])).status_code == 404


def test_a_20_mb_file_is_refused_with_a_clear_message_and_nothing_changes(w: types.SimpleNamespace) -> None:
    client = signed_in(w.secretary.user)
    big = SimpleUploadedFile("big.png", png() + b"\0" * (20 * 1024 * 1024), content_type="image/png")
    response = client.post(reverse("web:staff_photo", args=[w.agenda.pk]), {"photo": big})
    assert response.status_code == 413
    assert "une photo fait au plus 5 Mo" in response.content.decode()
    six = SimpleUploadedFile("six.png", png() + b"\0" * (5 * 1024 * 1024), content_type="image/png")
    response = client.post(reverse("web:staff_photo", args=[w.agenda.pk]), {"photo": six})
    assert response.status_code == 400 and "une photo fait au plus 5 Mo" in response.content.decode()
    fake = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00 not an image", content_type="image/jpeg")
    response = client.post(reverse("web:staff_photo", args=[w.agenda.pk]), {"photo": fake})
    assert response.status_code == 400 and "pas une image JPEG, PNG ou WebP" in response.content.decode()
    assert not PractitionerPhoto.objects.exists()


# --- shown to patients --------------------------------------------------------------------------------------


def test_the_public_page_shows_the_profile_but_not_the_door_code(w: types.SimpleNamespace) -> None:
    directory.practitioner_profile_update(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        convention_sector="2",
        optam=True,
        fees="Consultation 50 €",
        tiers_payant=True,
        payment_methods=["card", "cheque"],
    )
    directory.site_profile_update(
        actor=w.secretary,
        agenda_id=w.agenda.pk,
        site_id=w.site.pk,
        phone="0478123456",
        wheelchair_access=True,
        floor="2e étage",
        door_code="4821B",
        transport="Métro B",
        parking="Parking Saxe",
    )
    page = Client().get(reverse("web:practitioner", args=[w.doc.pk])).content.decode()
    for text in ("04 78 12 34 56", "Consultation 50 €", "OPTAM", "Carte bancaire, Chèque", "2e étage", "Métro B"):
        assert text in page, text
    assert "Accessible en fauteuil roulant" in page and "Parking Saxe" in page
    assert "4821B" not in page


def test_the_phone_is_shown_where_online_cancellation_has_ended(w: types.SimpleNamespace) -> None:
    directory.site_profile_update(
        actor=w.secretary, agenda_id=w.agenda.pk, site_id=w.site.pk, phone="0478123456", door_code="4821B"
    )
    start = f.paris(2026, 3, 2, 10, 0)  # 3 hours after the frozen now: past the 4-hour deadline
    a = booking.appointment_book(
        actor=w.patient_actor, slot=SlotRef(w.doc.pk, w.motif.pk, w.site.pk, start), patient_id=w.patient.pk
    )
    assert a.start_at - clock.now() < dt.timedelta(hours=w.doc.cancellation_deadline_hours)
    page = signed_in(w.user).get(reverse("web:account_appointment", args=[a.pk])).content.decode()
    assert "Téléphone du cabinet" in page and 'href="tel:+33478123456"' in page
    assert "4821B" in page  # the patient with an appointment gets the door code


def test_staff_edit_the_profile_page_and_a_bad_phone_changes_nothing(w: types.SimpleNamespace) -> None:
    client = signed_in(w.secretary.user)
    url = reverse("web:staff_profile", args=[w.agenda.pk])
    assert client.get(url).status_code == 200
    bad = client.post(url, {"action": "site", "site": str(w.site.pk), "s0-phone": "12"})
    assert bad.status_code == 400 and "numéro de téléphone n&#x27;est pas valide" in bad.content.decode()
    assert Site.objects.get(pk=w.site.pk).phone == ""
    ok = client.post(url, {"action": "site", "site": str(w.site.pk), "s0-phone": "04 78 12 34 56", "s0-floor": "RDC"})
    assert ok.status_code == 302 and Site.objects.get(pk=w.site.pk).phone == "+33478123456"
    fees = client.post(url, {"action": "doc", "convention_sector": "1", "fees": "25 €", "payment_methods": ["card"]})
    assert fees.status_code == 302 and Practitioner.objects.get(pk=w.doc.pk).fees == "25 €"
