"""Who hears about a detection alert: the platform's security contact and the admins of the
organizations the principal acts for. The message holds the rule and counts, never personal data."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.mail import send_mail

from creneau.accounts.models import Membership, Role
from creneau.audit.models import DetectionAlert


def recipients_for(alert: DetectionAlert) -> list[str]:
    org_ids = [uuid.UUID(o) for o in alert.organization_ids]
    admins = Membership.objects.filter(organization_id__in=org_ids, role=Role.ORG_ADMIN, user__is_active=True)
    emails = sorted({m.user.email for m in admins.select_related("user")})
    return [settings.CRENEAU_SECURITY_CONTACT, *emails]


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
