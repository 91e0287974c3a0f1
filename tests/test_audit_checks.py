from __future__ import annotations

from creneau.audit.checks import DEV_SIGNING_KEY, audit_signing_key


def test_production_refuses_the_development_signing_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRENEAU_REQUIRE_REAL_KEYS = True
    settings.CRENEAU_AUDIT_SIGNING_KEY = DEV_SIGNING_KEY
    assert [e.id for e in audit_signing_key()] == ["creneau.E201"]
    settings.CRENEAU_AUDIT_SIGNING_KEY = "a-real-secret-from-the-vault"
    assert audit_signing_key() == []
