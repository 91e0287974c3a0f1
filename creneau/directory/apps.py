from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "creneau.directory"
    label = "directory"
