from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "creneau.patients"
    label = "patients"
