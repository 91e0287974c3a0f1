from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "creneau.demo"
    label = "demo"
