"""Domain errors. Each carries a stable code and a translatable message that is safe to show:
never any personal data, so it can reach a page, an API response or a log line as it is."""

from __future__ import annotations

from django.utils.functional import Promise


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"
    http_status = 400

    def __init__(self, message: str | Promise, *, code: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code


class InvalidInput(DomainError):
    code = "invalid"
    http_status = 400


class NotFound(DomainError):
    """The object does not exist *or the actor may not see it*: both answer the same."""

    code = "not-found"
    http_status = 404


class PermissionDenied(DomainError):
    code = "forbidden"
    http_status = 403


class Conflict(DomainError):
    """The slot was taken, the state changed under us: retrying the same thing will not help."""

    code = "conflict"
    http_status = 409


class PolicyViolation(DomainError):
    """A business rule forbids this (deadline passed, new patients not accepted...)."""

    code = "policy"
    http_status = 422
