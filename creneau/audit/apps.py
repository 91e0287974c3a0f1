from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "creneau.audit"
    label = "audit"
