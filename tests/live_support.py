"""Firing many simultaneous HTTP requests at the live test server (abuse-limit races)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import requests
from django.db import connection
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory

# Every simultaneous request on its own connection: no keep-alive reuse hides the race.
TIMEOUT = 120


def csrf_pair() -> str:
    """A valid CSRF token, usable as both the cookie and the form field."""
    return str(get_token(RequestFactory().get("/")))


def session_for(user: object | None = None) -> requests.Session:
    """A `requests` session carrying a signed-in Django session (force_login) and a CSRF cookie."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=256)
    session.mount("http://", adapter)
    token = csrf_pair()
    session.cookies.set("csrftoken", token)
    session.headers["X-CSRFToken"] = token
    if user is not None:
        client = Client()
        client.force_login(user)  # type: ignore[arg-type]
        session.cookies.set("sessionid", client.cookies["sessionid"].value)
    return session


def fire(n: int, request: Callable[[int], requests.Response]) -> list[requests.Response | BaseException]:
    """Run `request(i)` for i in range(n) on n threads released together by a barrier."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = request(i)
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    return results


def statuses(results: list[requests.Response | BaseException]) -> list[int | str]:
    return [r.status_code if isinstance(r, requests.Response) else repr(r) for r in results]
