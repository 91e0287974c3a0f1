"""Helpers for the web view tests."""

from __future__ import annotations

import datetime as dt

from django.test import Client, TestCase

from creneau.accounts.models import User
from creneau.directory.models import Practitioner
from creneau.scheduling.services import availability_refresh


def stamp(moment: dt.datetime) -> str:
    """A slot start as the pages put it in URLs."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


def refresh(*practitioners: Practitioner) -> None:
    """Rebuild their index rows and, as a commit would, replace the index versions (cached searches)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        availability_refresh(practitioner_ids=[p.pk for p in practitioners])


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
