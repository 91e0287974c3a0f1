from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """A person's rights over their data (GDPR): who accessed it (the access journal), and in time
    export, erasure and retention. Above the domain apps it reads, so none of them needs to know it."""

    name = "creneau.privacy"
    label = "privacy"
