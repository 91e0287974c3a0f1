"""Domain events reach the handlers the settings list, inside the emitter's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from creneau.core import events

CALLS: list[dict[str, Any]] = []


def record_call(**payload: Any) -> None:
    CALLS.append(payload)


def refuse(**payload: Any) -> None:
    raise RuntimeError("handler refused")


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


def test_an_event_reaches_every_listed_handler_with_its_payload() -> None:
    with override_settings(CRENEAU_EVENT_HANDLERS={"demo.happened": [f"{__name__}.record_call"] * 2}):
        assert events.emit("demo.happened", user_id="u1") == 2
    assert CALLS == [{"user_id": "u1"}, {"user_id": "u1"}]


def test_an_event_nobody_listens_to_runs_nothing() -> None:
    with override_settings(CRENEAU_EVENT_HANDLERS={"demo.happened": [f"{__name__}.record_call"]}):
        assert events.emit("demo.other", user_id="u1") == 0
    assert CALLS == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_fails_the_write_that_emitted_it() -> None:
    with (
        override_settings(CRENEAU_EVENT_HANDLERS={"demo.happened": [f"{__name__}.refuse"]}),
        pytest.raises(RuntimeError, match="handler refused"),
        transaction.atomic(),
    ):
        events.emit("demo.happened")


def test_the_system_check_names_a_handler_that_does_not_import() -> None:
    from creneau.core.checks import check_event_handlers

    assert check_event_handlers() == []  # the shipped table is sound
    table = {"demo.happened": [f"{__name__}.record_call", f"{__name__}.no_such_handler", f"{__name__}.CALLS"]}
    with override_settings(CRENEAU_EVENT_HANDLERS=table):
        errors = check_event_handlers()
    assert [e.id for e in errors] == ["creneau.E104", "creneau.E104"]
    assert "no_such_handler" in errors[0].msg
    assert "not callable" in errors[1].msg


def test_a_provider_that_does_not_import_fails_the_system_check() -> None:
    from creneau.core.checks import check_providers

    assert check_providers() == []
    with override_settings(CRENEAU_BUSY_TIME_PROVIDER="creneau.booking.providers.no_such_provider"):
        assert [e.id for e in check_providers()] == ["creneau.E106"]
