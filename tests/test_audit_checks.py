from __future__ import annotations

import base64
import os

from pytest_django.fixtures import Settings

from creneau.audit.checks import audit_anchor_off_host, audit_keys
from creneau.audit.envkeys import DEV_SEAL_KEYS, DEV_SIGNING_KEY


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_production_refuses_the_development_audit_keys(settings: Settings) -> None:
    settings.CRENEAU_REQUIRE_REAL_KEYS = True
    settings.CRENEAU_AUDIT_SEAL_KEYS = DEV_SEAL_KEYS
    settings.CRENEAU_AUDIT_SIGNING_KEY = _key()
    assert [e.id for e in audit_keys()] == ["creneau.E201"]
    settings.CRENEAU_AUDIT_SEAL_KEYS = [("k1", _key())]
    settings.CRENEAU_AUDIT_SIGNING_KEY = DEV_SIGNING_KEY
    assert [e.id for e in audit_keys()] == ["creneau.E201"]
    settings.CRENEAU_AUDIT_SIGNING_KEY = _key()
    assert audit_keys() == []


def test_an_audit_key_that_is_not_32_bytes_is_refused_everywhere(settings: Settings) -> None:
    settings.CRENEAU_AUDIT_SIGNING_KEY = "too-short"
    assert [e.id for e in audit_keys()] == ["creneau.E201"]


def test_production_warns_when_heads_are_only_published_to_local_files(settings: Settings) -> None:
    settings.CRENEAU_REQUIRE_REAL_KEYS = True
    assert [w.id for w in audit_anchor_off_host()] == ["creneau.W205"]
    settings.CRENEAU_AUDIT_ANCHOR_SINKS = [
        *settings.CRENEAU_AUDIT_ANCHOR_SINKS,
        {"BACKEND": "creneau.audit.anchors.HttpLogSink", "OPTIONS": {"url": "https://anchors.example/log"}},
    ]
    assert audit_anchor_off_host() == []
