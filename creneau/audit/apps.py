from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "creneau.audit"
    label = "audit"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
