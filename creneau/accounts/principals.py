"""The account behind an actor. Core types `Actor.user` as a `Principal` (it imports no app); the apps
above accounts that store or query the user get the `User` model back from here."""

from __future__ import annotations

from creneau.core.actors import Actor

from .models import User


def acting_user(actor: Actor) -> User | None:
    """The signed-in account acting (None for the system, an API client or an anonymous visitor)."""
    user = actor.user
    if user is None or isinstance(user, User):
        return user
    raise TypeError("Actor.user is not an account")
