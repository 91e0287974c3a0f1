"""Public practitioner page: sites and hours, visit reasons, languages, a week of free times."""

from __future__ import annotations

import pytest
from django.test import Client

from . import factories as f
from .personas import World

pytestmark = pytest.mark.django_db


def test_profile_shows_site_hours_motifs_and_the_week(world: World, client: Client) -> None:
    doc = world.doc
    doc.languages = ["fr", "en"]
    doc.save()
    html = client.get(f"/en/practitioners/{doc.pk}/").content.decode()
    assert doc.display_name in html and "Dermatology" in html
    assert "1 rue de Test" in html and "09:00–12:00" in html  # opening hours
    assert "Consultation" in html and "30 min" in html
    assert "French" in html and "English" in html
    assert "Week of 2 March to 8 March 2026" in html
    assert "start=20260302T0800Z" in html  # Monday 09:00 Paris is bookable


def test_week_navigation_and_no_past_weeks(world: World, client: Client) -> None:
    url = f"/en/practitioners/{world.doc.pk}/"
    html = client.get(url, {"week": "2026-03-09"}).content.decode()
    assert "Week of 9 March to 15 March 2026" in html and "Previous week" in html
    html = client.get(url, {"week": "2025-01-06"}).content.decode()
    assert "Week of 2 March to 8 March 2026" in html


def test_a_motif_not_bookable_online_is_listed_as_by_phone_but_not_offered(world: World, client: Client) -> None:
    phone_only = f.motif(world.doc, name="Urgence téléphonique", online=False)
    html = client.get(f"/en/practitioners/{world.doc.pk}/").content.decode()
    assert 'Urgence téléphonique — 30 min <span class="badge grey">by phone only</span>' in html
    assert f'value="{phone_only.pk}"' not in html  # not in the visit reasons one can pick times for
    response = client.get(f"/en/practitioners/{world.doc.pk}/", {"motif": str(phone_only.pk)})
    assert response.status_code == 404


def test_bad_week_is_a_400_and_unknown_practitioner_a_404(world: World, client: Client) -> None:
    response = client.get(f"/en/practitioners/{world.doc.pk}/", {"week": "next tuesday"})
    assert response.status_code == 400 and "This date is not valid." in response.content.decode()
    assert client.get("/en/practitioners/not-an-id/").status_code == 404
    assert client.get("/en/practitioners/00000000-0000-0000-0000-000000000000/").status_code == 404
