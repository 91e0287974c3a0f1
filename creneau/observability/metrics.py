"""`/metrics`: the Prometheus exposition, for operators only.

Two sources. Process counters and histograms (`creneau.core.metrics`: latency per route, booking outcomes),
summed across gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set. And the platform's state, read from
the database at scrape time so that every web process and node answers the same: outbox backlog and age,
task queue depth, audit sealing lag, detection alerts and suspended principals. Labels are closed sets
(channel, queue, rule, severity, kind of principal): never a principal, an address or an id.

The endpoint answers 404 unless CRENEAU_METRICS_TOKEN is set, then only to `Authorization: Bearer <token>`
(401 otherwise). The reverse proxy in deploy/ does not forward it at all: Prometheus scrapes the web
processes on the internal network."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from creneau.core import clock

logger = logging.getLogger(__name__)


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0


def _principal_kind(principal: str) -> str:
    """`user:<uuid>` → `user`: the kind of principal, never which one."""
    kind = principal.split(":", 1)[0]
    return kind if kind in {"user", "client", "patient", "staff", "api_client", "operator", "system"} else "other"


class StateCollector(Collector):
    """Gauges computed from the database on each scrape: a handful of aggregate, indexed queries."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("creneau_state_up", "1 when the state metrics below could be read from the database.")
        try:
            families = list(self._families(clock.now()))
        except DatabaseError:
            logger.warning("metrics: the database could not be read for state metrics")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: dt.datetime) -> Iterator[Metric]:
        from django_tasks_db.models import DBTaskResult

        from creneau.audit.models import AuditCheckpoint, AuditEvent, AuditSeal, DetectionAlert, SuspendedPrincipal
        from creneau.notifications.models import MessageStatus, OutboundMessage

        # Outbox: messages due and not yet sent (reminders scheduled for later are not backlog).
        due = OutboundMessage.objects.filter(
            status__in=[MessageStatus.PENDING, MessageStatus.SENDING], send_after__lte=now
        )
        backlog = GaugeMetricFamily("creneau_outbox_backlog", "Messages due and not yet sent.", labels=["channel"])
        for row in due.values("channel").annotate(n=Count("pk")).order_by("channel"):
            backlog.add_metric([row["channel"]], row["n"])
        yield backlog
        oldest = due.aggregate(oldest=Min("send_after"))["oldest"]
        yield GaugeMetricFamily(
            "creneau_outbox_oldest_due_age_seconds", "How long the oldest due message has waited.", _age(now, oldest)
        )
        failed = GaugeMetricFamily(
            "creneau_outbox_failed", "Messages given up after their retries.", labels=["channel"]
        )
        for row in (
            OutboundMessage.objects.filter(status=MessageStatus.FAILED)
            .values("channel")
            .annotate(n=Count("pk"))
            .order_by("channel")
        ):
            failed.add_metric([row["channel"]], row["n"])
        yield failed

        # Background tasks waiting for a worker.
        ready = DBTaskResult.objects.filter(status="READY", run_after__lte=now)
        depth = GaugeMetricFamily("creneau_task_queue_depth", "Tasks ready to run, by queue.", labels=["queue"])
        for queue, n in ready.values_list("queue_name").annotate(n=Count("pk")).order_by("queue_name"):
            depth.add_metric([queue], n)
        yield depth
        yield GaugeMetricFamily(
            "creneau_task_oldest_ready_age_seconds",
            "How long the oldest ready task has waited.",
            _age(now, ready.aggregate(oldest=Min("run_after"))["oldest"]),
        )

        # Audit sealing: events are sealed in id order, so the first unsealed one follows the last seal.
        last_seal = AuditSeal.objects.order_by("-seq").values_list("event_id", flat=True).first()
        unsealed = AuditEvent.objects.filter(id__gt=last_seal) if last_seal is not None else AuditEvent.objects.all()
        first_unsealed = unsealed.order_by("id").values_list("at", flat=True).first()
        yield GaugeMetricFamily(
            "creneau_audit_seal_lag_seconds",
            "Age of the oldest audit event not yet in the hash chain (0 when all are sealed).",
            _age(now, first_unsealed),
        )
        yield GaugeMetricFamily(
            "creneau_audit_unsealed_events", "Audit events not yet in the hash chain.", unsealed.count()
        )
        checkpoint = AuditCheckpoint.objects.order_by("-id").values_list("created_at", flat=True).first()
        yield GaugeMetricFamily(
            "creneau_audit_checkpoint_age_seconds",
            "Age of the last signed checkpoint (-1 when there is none yet).",
            _age(now, checkpoint) if checkpoint is not None else -1,
        )

        # Detection.
        alerts = CounterMetricFamily(
            "creneau_detection_alerts", "Extraction-detection alerts recorded.", labels=["rule", "severity"]
        )
        by_rule = DetectionAlert.objects.values_list("rule", "severity").annotate(n=Count("pk")).order_by("rule")
        for rule, severity, n in by_rule:
            alerts.add_metric([rule, severity], n)
        yield alerts
        kinds: dict[str, int] = {}
        for principal in SuspendedPrincipal.objects.values_list("principal", flat=True).iterator():
            kinds[_principal_kind(principal)] = kinds.get(_principal_kind(principal), 0) + 1
        suspended = GaugeMetricFamily(
            "creneau_suspended_principals", "Principals currently suspended, by kind.", labels=["kind"]
        )
        for kind, count in sorted(kinds.items()):
            suspended.add_metric([kind], count)
        yield suspended


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _authorized(request: HttpRequest) -> bool:
    token = getattr(settings, "CRENEAU_METRICS_TOKEN", "")
    if not token:
        raise Http404
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse(
            _("A valid metrics token is required."), status=401, content_type="text/plain; charset=utf-8"
        )
        response["WWW-Authenticate"] = 'Bearer realm="creneau-metrics"'
        return response
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector())
    body = generate_latest(_process_registry()) + generate_latest(state)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
