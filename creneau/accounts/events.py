"""Events the accounts app emits (`creneau.core.events.emit`); handlers are listed in
`settings.CRENEAU_EVENT_HANDLERS`. Payloads carry identifiers only (an invitation link's token is made
when its e-mail is sent, see `selectors.invitation_token`)."""

# accounts.team: an organization admin invited someone (invitation_id).
INVITATION_CREATED = "team.invitation_created"
# accounts.team: a member's rights on agendas changed (organization_id, user_id,
# changes=[(agenda_id, before, after)] with before/after as {"view", "book", "manage"}, tell_member).
# Also emitted by a role change or a removal for the agendas the person can reach differently
# (tell_member=False after a role change: the role e-mail already told them).
RIGHTS_CHANGED = "team.rights_changed"
# accounts.team: a member's role changed (organization_id, user_id, before, after).
ROLE_CHANGED = "team.role_changed"
# accounts.team: a member lost a role in the organization (organization_id, user_id, role).
MEMBER_REMOVED = "team.member_removed"

# accounts.services (all with user_id; next_url too for a sign-up). Secret links are made by the
# outbox when the message leaves, never carried in the payload.
SIGNUP_REQUESTED = "account.signup_requested"  # a new, inactive account: send its verification link
SIGNUP_EXISTING = "account.signup_existing"  # a sign-up with an address that already has an account
PASSWORD_RESET_REQUESTED = "account.password_reset_requested"
PASSWORD_CHANGED = "account.password_changed"  # changed or reset
MFA_CHANGED = "account.mfa_changed"  # second factor on, replaced, off; recovery codes replaced
NEW_LOGIN = "account.new_login"  # a password sign-in from a browser this account never used
PASSKEY_CHANGED = "account.passkey_changed"  # a passkey added or removed (user_id, change="added"|"removed")

ACCOUNT_EVENTS = (
    SIGNUP_REQUESTED,
    SIGNUP_EXISTING,
    PASSWORD_RESET_REQUESTED,
    PASSWORD_CHANGED,
    MFA_CHANGED,
    NEW_LOGIN,
    PASSKEY_CHANGED,
)
