"""Gunicorn configuration for creneau: `gunicorn -c deploy/gunicorn.conf.py config.wsgi`.

Workers are sized to the machine: one process per core (a Django request is CPU-bound Python; more
processes than cores only add context switches) plus gthread threads to overlap database and Redis
waits. Each process keeps its own psycopg pool (DB_POOL_MAX, default 8 ≥ threads), so the database
sees at most workers × DB_POOL_MAX connections: size PostgreSQL's max_connections (or PgBouncer's
pool) from that. Every value can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Recycle workers now and then (bounded memory growth), staggered so they do not restart together. Not too
# often: a recycling worker drops its keep-alive connections and, for a moment, leaves the load to the
# others (at 2,000 requests/s per worker, 20,000 meant every 10 s). 0 turns recycling off.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "200000"))
max_requests_jitter = max_requests // 10
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Load the application before forking: faster worker starts, shared memory pages. Database connections
# are opened lazily in each worker, never inherited.
preload_app = True
# No gunicorn access log by default: the application writes one JSON line per request (request id, route
# pattern, status, duration, principal kind; creneau.observability), where a path would carry ids and the
# client address a person. GUNICORN_ACCESS_LOG=- turns it back on, without query strings.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = '"%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
# gunicorn's own lines (boot, worker exits) as JSON too, through the application's formatter.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "creneau.observability.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"] if accesslog else [], "level": "INFO", "propagate": False},
    },
}
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# Prometheus counters shared by the worker processes (creneau.observability.metrics): with
# PROMETHEUS_MULTIPROC_DIR set, each process writes its counts there and /metrics sums them. The directory
# must be private to this gunicorn (one per container or machine) and is emptied when it starts.
def on_starting(server: object) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, mode=0o700, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
