from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "creneau.audit"
    label = "audit"

    def ready(self) -> None:
        from . import checks, keys  # noqa: F401  (registers the system checks, the key-cache reset)
