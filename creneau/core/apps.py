from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "creneau.core"
    label = "core"

    def ready(self) -> None:
        from creneau.core import checks  # noqa: F401  (registers the system checks)
