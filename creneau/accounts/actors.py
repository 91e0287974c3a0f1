"""Who acts on an account page: the signed-in user in their capacity (staff, operator, patient), or an
anonymous visitor identified only by address (sign-up, reset). Audit rows name them by `Actor.key`."""

from __future__ import annotations

from django.http import HttpRequest

from creneau.core import ratelimit
from creneau.core.actors import Actor, ActorKind, Channel

from .models import Membership, User
from .selectors import staff_actor


def anonymous_actor(request: HttpRequest) -> Actor:
    return Actor(kind=ActorKind.PATIENT, channel=Channel.WEB, ip=ratelimit.client_ip(request) or None)


def account_actor(request: HttpRequest, user: User | None = None) -> Actor:
    """The account holder acting on their own account (`user` when not yet signed in, e.g. a link)."""
    person = user if user is not None else request.user
    if not isinstance(person, User) or not person.is_authenticated:
        return anonymous_actor(request)
    ip = ratelimit.client_ip(request) or None
    if Membership.objects.filter(user=person).exists():
        return staff_actor(person, ip=ip)
    if person.is_staff or person.is_superuser:
        return Actor.for_operator(person, ip=ip)
    return Actor.for_patient(person, ip=ip)
