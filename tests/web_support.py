"""Helpers for the web view tests."""

from __future__ import annotations

import datetime as dt

from django.test import Client, TestCase

from creneau.scheduling.services import availability_refresh


def stamp(moment: dt.datetime) -> str:
    """A slot start as the pages put it in URLs."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


def refresh(*practitioners: object) -> None:
    """Rebuild their index rows and, as a commit would, replace the index versions (cached searches)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        availability_refresh(practitioner_ids=[p.pk for p in practitioners])  # type: ignore[attr-defined]


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client
