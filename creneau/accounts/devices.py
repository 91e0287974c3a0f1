"""Recognizing the browsers an account signs in from, to tell its owner about a new one.

A long-lived signed cookie lists short hashes of the accounts that signed in from this browser; a sign-in
whose account is not in it triggers the "new sign-in" message. No device data is stored server-side."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse

COOKIE = "creneau_seen"
SALT = "creneau.accounts.devices"
MAX_AGE = 365 * 24 * 3600


def _tag(user_pk: object) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{user_pk}".encode()).hexdigest()[:16]


def seen_here(request: HttpRequest, user_pk: object) -> bool:
    raw = request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=MAX_AGE)
    return _tag(user_pk) in str(raw).split(",")


def remember(request: HttpRequest, response: HttpResponse, user_pk: object) -> None:
    raw = str(request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=MAX_AGE))
    tags = [t for t in raw.split(",") if t]
    tag = _tag(user_pk)
    if tag not in tags:
        tags = [tag, *tags][:10]
    response.set_signed_cookie(
        COOKIE,
        ",".join(tags),
        salt=SALT,
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
