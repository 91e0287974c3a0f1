"""Events the accounts app emits (`creneau.core.events.emit`); handlers are listed in
`settings.CRENEAU_EVENT_HANDLERS`. Payloads carry identifiers only, plus, for an invitation, the
link's token (the one place it exists in clear, long enough to be e-mailed)."""

# accounts.team: an organization admin invited someone (invitation_id, token).
INVITATION_CREATED = "team.invitation_created"
# accounts.team: a member's rights on agendas changed (organization_id, user_id,
# changes=[(agenda_id, before, after)] with before/after as {"view", "book", "manage"}).
RIGHTS_CHANGED = "team.rights_changed"
# accounts.team: a member's role changed (organization_id, user_id, before, after).
ROLE_CHANGED = "team.role_changed"
# accounts.team: a member lost a role in the organization (organization_id, user_id, role).
MEMBER_REMOVED = "team.member_removed"
