from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "creneau.exports"
    label = "exports"
