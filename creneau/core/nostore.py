"""`Cache-Control: no-store` on every response that may carry personal data.

A shared proxy, a browser's back-forward cache or disk cache must not keep an account page, an
appointment, a calendar file or a FHIR Patient. Rather than trusting each view to remember, this
middleware marks every response to an authenticated request (a session user, any request carrying a
session cookie, e.g. the refusal page of an account suspended since it signed in, or any `Authorization`
header: API tokens, even invalid ones), every response that sets a cookie other than the CSRF one (a
sign-in) and every page under /accounts/ (reset and verification links). Only anonymous public pages
(search, practitioner pages, the public FHIR directory) stay cacheable."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

PERSONAL_PREFIXES = ("/accounts/", "/en/accounts/", "/admin/")


def carries_personal_data(request: HttpRequest, response: HttpResponseBase) -> bool:
    user = getattr(request, "user", None)
    return bool(
        (user is not None and user.is_authenticated)
        or settings.SESSION_COOKIE_NAME in request.COOKIES
        or request.META.get("HTTP_AUTHORIZATION")
        or any(name != settings.CSRF_COOKIE_NAME for name in response.cookies)
        or request.path.startswith(PERSONAL_PREFIXES)
    )


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if carries_personal_data(request, response):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
            if "Expires" in response:
                del response["Expires"]
        return response
