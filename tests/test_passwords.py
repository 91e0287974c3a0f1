"""Passwords: Argon2id hashing, breached-password refusal (offline ranges, online range API), strength."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from config.settings import base
from creneau.accounts.passwords import is_breached


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    # Messages asserted in English: the language active in this thread must be English too.
    with translation.override("en"):
        yield


BREACHED_MESSAGE = "appears in lists of passwords exposed in data breaches"


def errors_for(password: str) -> list[str]:
    try:
        validate_password(password)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def test_new_passwords_are_hashed_with_argon2id() -> None:
    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        assert make_password("une phrase de passe solide").startswith("argon2$argon2id$")


def test_a_breached_password_is_refused_with_a_plain_explanation() -> None:
    messages = errors_for("qwertyuiop")
    assert any(BREACHED_MESSAGE in m for m in messages)
    assert not any("stupid" in m.lower() or "bad" in m.lower() for m in messages)


def test_french_favourites_are_in_the_offline_corpus() -> None:
    assert is_breached("motdepasse123") and is_breached("azertyuiop")


def test_a_strong_unbreached_password_is_accepted() -> None:
    assert errors_for("gravier mistral lanterne 47") == []


def test_an_easy_to_guess_password_gets_advice() -> None:
    messages = errors_for("aaaaaaaaaaaa")
    assert any("easy to guess" in m and "unrelated words" in m for m in messages)


@pytest.mark.django_db
def test_sign_up_shows_the_breached_message_and_creates_no_account(client: object) -> None:
    from creneau.accounts.models import User

    with translation.override("en"):
        url = reverse("accounts:signup")
    response = client.post(  # type: ignore[attr-defined]
        url,
        {"email": "nouveau@example.invalid", "password1": "1234567890", "password2": "1234567890"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert BREACHED_MESSAGE in response.content.decode()
    assert not User.objects.by_email("nouveau@example.invalid").exists()


class RangeServer:
    """A real HTTP server speaking the range API: it records what it was asked."""

    def __init__(self, breached: str) -> None:
        digest = hashlib.sha1(breached.encode()).hexdigest().upper()
        self.prefix, self.suffix = digest[:5], digest[5:]
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("Add-Padding")))
                lines = ["0" * 35 + ":0"] * 50  # padding entries
                if self.path.endswith("/" + outer.prefix):
                    lines.append(f"{outer.suffix}:42")
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/range/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def range_server() -> Iterator[RangeServer]:
    server = RangeServer("un mot de passe fuité ailleurs 2026")
    yield server
    server.close()


def test_online_mode_sends_only_the_hash_prefix_with_padding(range_server: RangeServer) -> None:
    with override_settings(CRENEAU_BREACHED_PASSWORDS_ONLINE=True, CRENEAU_BREACHED_PASSWORDS_URL=range_server.url):
        assert is_breached("un mot de passe fuité ailleurs 2026")
        assert not is_breached("gravier mistral lanterne 47")
    assert range_server.requests[0][0].rsplit("/", 1)[1] == range_server.prefix
    assert all(len(path.rsplit("/", 1)[1]) == 5 and pad == "true" for path, pad in range_server.requests)


def test_online_mode_falls_back_to_the_offline_list_when_the_service_is_down(range_server: RangeServer) -> None:
    url = range_server.url
    range_server.close()
    with override_settings(CRENEAU_BREACHED_PASSWORDS_ONLINE=True, CRENEAU_BREACHED_PASSWORDS_URL=url):
        assert is_breached("qwertyuiop")
        assert not is_breached("gravier mistral lanterne 47")


def test_online_mode_is_off_by_default() -> None:
    assert settings.CRENEAU_BREACHED_PASSWORDS_ONLINE is False
