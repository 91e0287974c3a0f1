"""Events the patients app emits (`creneau.core.events.emit`); handlers in settings.CRENEAU_EVENT_HANDLERS."""

# privacy.rights.account_erase, for each patient of the account with future bookings, before it is
# anonymized or deleted (actor, patient_id). booking.erasure cancels them through appointment_cancel.
PATIENT_ERASING = "patient.erasing"

# privacy.rights.account_erase, once, before the patients are handled (actor). booking.erasure releases
# the account's unconfirmed holds through hold_release.
ACCOUNT_ERASING = "patient.account_erasing"

# patients.services.patient_phone_code_send: a confirmation code was issued for the account holder's number
# (phone, code, language, dedup). notifications sends the SMS; the payload never leaves the process.
PHONE_CODE_ISSUED = "patient.phone_code_issued"

# patients.services.patient_booking_block / patient_booking_unblock: an organization stopped (or
# allowed again) online booking for a patient (patient_id, organization_id, block_id). notifications
# tells the patient by message.
BOOKING_BLOCKED = "patient.booking_blocked"
BOOKING_UNBLOCKED = "patient.booking_unblocked"
