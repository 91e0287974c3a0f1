"""Events the notifications app emits (`creneau.core.events.emit`); handlers in settings.CRENEAU_EVENT_HANDLERS.

A web hook's outcome (the outbox delivers it like any message): the app that queued it (fhir, for its
subscriptions) keeps its own bookkeeping (audit of the disclosure, consecutive failures, pausing)."""

# A web hook was delivered (message_id, dedup_key, appointment_id, headers). Emitted in the transaction
# that marks the row sent.
WEBHOOK_DELIVERED = "outbox.webhook_delivered"
# One attempt failed (message_id, dedup_key, appointment_id, headers, reason, final: no retry left).
WEBHOOK_FAILED = "outbox.webhook_failed"
