"""Events the audit app emits (`creneau.core.events.emit`); handlers are listed in
`settings.CRENEAU_EVENT_HANDLERS`. Audit is a sink: what detection makes happen elsewhere (an incident,
a deactivated account, an alert e-mail) is done by the listeners of the apps above it."""

# audit.services: a detection rule fired (alert: the stored DetectionAlert, identifiers and counts only).
ALERT_RAISED = "audit.alert_raised"
# audit.services.principal_suspend: a principal is suspended (principal: "user:<id>" or "client:<id>", reason).
PRINCIPAL_SUSPENDED = "audit.principal_suspended"
