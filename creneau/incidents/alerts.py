"""Who hears about a detection alert: the platform's security contact and the admins of the
organizations the principal acts for. The message holds the rule and counts, never personal data."""

from __future__ import annotations

import functools
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from creneau.accounts.selectors import organization_admin_emails
from creneau.audit.models import DetectionAlert


def recipients_for(alert: DetectionAlert) -> list[str]:
    org_ids = [uuid.UUID(o) for o in alert.organization_ids]
    return [settings.CRENEAU_SECURITY_CONTACT, *organization_admin_emails(org_ids)]


def send_alert(alert: DetectionAlert) -> None:
    action = "suspended" if alert.suspended else "not suspended"
    send_mail(
        subject=f"[creneau] security alert: {alert.rule} ({alert.severity})",
        message=(
            f"Rule {alert.rule} fired for principal {alert.principal} at {alert.at.isoformat()}.\n"
            f"Measured {alert.measured}, threshold {alert.threshold}; the principal was {action}.\n"
            "Details and the incident scope are in the operators' console (Django admin > Incidents)."
        ),
        from_email=None,
        recipient_list=recipients_for(alert),
    )


def on_alert_raised(*, alert: DetectionAlert) -> None:
    """Listener of `audit.alert_raised`: the alert e-mail leaves once the alert has committed."""
    transaction.on_commit(functools.partial(send_alert, alert))
