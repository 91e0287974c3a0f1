"""The HTTP reference: a Django view doing nothing, behind the same middleware as every page."""

from django.http import HttpRequest, HttpResponse


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")
