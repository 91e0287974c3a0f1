"""Django admin for platform operators: patients and appointments are view-only."""

from __future__ import annotations

import pytest

from creneau.accounts.models import User

from . import factories as f
from .personas import World
from .web_support import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> User:
    return User.objects.create_superuser("ops@example.invalid", "correct horse battery 42")


def test_patient_identity_is_shown_read_only(world: World, operator: User) -> None:
    client = signed_in(operator)
    url = f"/admin/patients/patient/{world.patient.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Patiente" in html  # shown...
    assert 'name="family_name"' not in html  # ...but not editable
    assert client.post(url, {"family_name": "Changed"}).status_code == 403
    world.patient.refresh_from_db()
    assert world.patient.family_name == "Patiente"


def test_patient_changelist_shows_no_names(world: World, operator: User) -> None:
    html = signed_in(operator).get("/admin/patients/patient/").content.decode()
    assert str(world.patient.pk) in html
    assert "Patiente" not in html and "Appelant" not in html


def test_appointments_cannot_be_added_in_the_admin(world: World, operator: User) -> None:
    assert signed_in(operator).get("/admin/booking/appointment/add/").status_code == 403


def test_directory_is_editable_by_operators(world: World, operator: User) -> None:
    assert signed_in(operator).get(f"/admin/directory/practitioner/{world.doc.pk}/change/").status_code == 200


def test_non_operators_have_no_admin(world: World) -> None:
    response = signed_in(f.user_of(world.secretary)).get("/admin/patients/patient/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
