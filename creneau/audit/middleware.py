"""Every change an operator makes in the Django admin goes into the audit trail.

Admin changes arrive as POSTs to /admin/<app>/<model>/… ; a successful one (a redirect) is recorded
with the model and object ids from the URL or, for changelist actions, the selected ids."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from creneau.core.actors import Actor

from .models import Action
from .services import Touched, audit_record

_ADMIN = re.compile(
    r"^/(?:[a-z]{2}/)?admin/(?P<app>\w+)/(?P<model>\w+)/(?:(?P<pk>[^/]+)/(?P<op>change|delete)/|(?P<add>add)/)?$"
)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class AdminAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method == "POST" and response.status_code in (301, 302) and request.user.is_authenticated:
            match = _ADMIN.match(request.path)
            if match:
                self._record(request, match)
        return response

    def _record(self, request: HttpRequest, match: re.Match[str]) -> None:
        model = match["model"]
        if match["add"]:
            action, ids = Action.CREATE, []
        elif match["op"] == "delete":
            action, ids = Action.DELETE, [match["pk"]]
        elif match["pk"]:
            action, ids = Action.UPDATE, [match["pk"]]
        else:
            selected = request.POST.getlist("_selected_action")
            if not selected:
                return
            action = Action.DELETE if request.POST.get("action") == "delete_selected" else Action.UPDATE
            ids = selected
        touched = []
        for raw in ids:
            oid = _uuid(raw)
            if model == "patient":
                touched.append(Touched(patient_id=oid))
            elif model == "appointment":
                touched.append(Touched(appointment_id=oid))
        audit_record(
            actor=Actor.for_operator(request.user, ip=request.META.get("REMOTE_ADDR")),  # type: ignore[arg-type]
            action=action,
            object_type=model,
            touched=touched,
            via=f"admin:{match['app']}.{model}:{','.join(ids)[:40]}",
        )
