from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "creneau.incidents"
    label = "incidents"

    def ready(self) -> None:
        from creneau.audit import detection

        from .alerts import send_alert

        if send_alert not in detection.ALERT_HOOKS:
            detection.ALERT_HOOKS.append(send_alert)
