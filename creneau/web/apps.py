from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "creneau.web"
    label = "web"
