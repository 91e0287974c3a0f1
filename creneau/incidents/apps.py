from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "creneau.incidents"
    label = "incidents"
