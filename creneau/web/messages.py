"""Messages raised untranslated by selectors (plain strings, so that they stay safe in logs);
listed here so that the French catalogue carries them and pages show them translated."""

from django.utils.translation import gettext_noop

SELECTOR_MESSAGES = [
    gettext_noop("Not found."),
    gettext_noop("Unknown appointment."),
    gettext_noop("Unknown hold."),
    gettext_noop("Unknown patient."),
    gettext_noop("Unknown practitioner."),
    gettext_noop("Unknown site."),
    gettext_noop("Unknown visit reason."),
]
