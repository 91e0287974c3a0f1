"""Local development: `make run`."""

from .base import *  # noqa: F403

DEBUG = True
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
CRENEAU_ACCEPT_FICTION_PHONES = True  # the demo data uses the fiction range
CRENEAU_FHIR_SUBSCRIPTION_LOCAL_HTTP = True  # subscriptions may post to http://127.0.0.1 (a local receiver)
