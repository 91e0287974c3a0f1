"""Events the patients app emits (`creneau.core.events.emit`); handlers in settings.CRENEAU_EVENT_HANDLERS."""

# patients.rights.account_erase, for each patient of the account with future bookings, before it is
# anonymized or deleted (actor, patient_id). booking.erasure cancels them through appointment_cancel.
PATIENT_ERASING = "patient.erasing"

# patients.rights.account_erase, once, before the patients are handled (actor). booking.erasure releases
# the account's unconfirmed holds through hold_release.
ACCOUNT_ERASING = "patient.account_erasing"
