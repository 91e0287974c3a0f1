from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "creneau.notifications"
    label = "notifications"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
