from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "creneau.observability"
    label = "observability"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
