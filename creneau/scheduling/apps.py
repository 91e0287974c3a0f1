from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "creneau.scheduling"
    label = "scheduling"
