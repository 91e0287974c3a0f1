"""The one request → actor adapter (web pages and fhir's consent pages use it): the signed-in user in their
capacity (patient, practice staff, operator), or an anonymous visitor identified only by address (sign-up,
reset, a search before signing in). The address is `core.ratelimit.client_ip` (the trusted proxy header when
one is configured). Audit rows name the actor by `Actor.key`."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _

from creneau.core import ratelimit
from creneau.core.actors import Actor, ActorKind, Channel
from creneau.core.errors import NotFound

from . import selectors
from .models import Membership, User


def _ip(request: HttpRequest) -> str | None:
    return ratelimit.client_ip(request) or None


def _signed_in(request: HttpRequest) -> User:
    """The signed-in account; anyone else gets the page a missing object gets (404)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise NotFound(_("Page not found."))
    return user


def anonymous_actor(request: HttpRequest) -> Actor:
    return Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip=_ip(request))


def patient_actor(request: HttpRequest) -> Actor:
    """The signed-in user as a patient acting for their account (themselves and their relatives)."""
    return Actor.for_patient(_signed_in(request), ip=_ip(request))


def staff_actor(request: HttpRequest, *, member: bool = True) -> Actor:
    """The signed-in user as practice staff, with their organizations and agenda rights. Someone with no
    membership sees nothing (404), unless `member=False` (a page that says there is nothing to manage)."""
    actor = selectors.staff_actor(_signed_in(request), ip=_ip(request))
    if member and not actor.organization_ids:
        raise NotFound(_("Page not found."))
    return actor


def account_actor(request: HttpRequest, user: User | None = None) -> Actor:
    """The account holder acting on their own account (`user` when not yet signed in, e.g. a link)."""
    person = user if user is not None else request.user
    if not isinstance(person, User) or not person.is_authenticated:
        return anonymous_actor(request)
    ip = _ip(request)
    if Membership.objects.filter(user=person).exists():
        return selectors.staff_actor(person, ip=ip)
    if person.is_staff or person.is_superuser:
        return Actor.for_operator(person, ip=ip)
    return Actor.for_patient(person, ip=ip)
