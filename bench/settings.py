"""Benchmark settings: the production settings (PostgreSQL pool, Redis cache, DEBUG off, real keys from
the environment that `bench.run` sets), plus a trivial `/bench/ping` view as the HTTP reference.

Rate limits keep running (every request still INCRs its Redis counter) but with limits no benchmark
reaches: the load generator is one client address."""

from config.settings.prod import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
CRENEAU_RATE_LIMITS = {"search-ip": (10**9, 60), "hold-actor": (10**9, 3600)}
CRENEAU_FHIR_ANON_RATE = (10**9, 60)
# Detection thresholds stay as configured: the benchmark's principals touch a small set of patients.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
# No real mail leaves a benchmark (security alerts would go to SMTP in production).
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Staff "unusual hours" depend on when the benchmark runs; the whole day counts as working hours so the
# figures do not change with the clock. Every other detection rule runs as configured.
CRENEAU_DETECTION = {**CRENEAU_DETECTION, "working_hours": (0, 24)}  # noqa: F405
