"""Patient and practice pages."""

from django.urls import path
from django.views.generic import RedirectView

from creneau.accounts.reauth import recent_auth_required
from creneau.core.ratelimit import ratelimit

from . import (
    account,
    agenda_feed,
    booking,
    calendar_feed,
    my_data,
    patient_file,
    practice_stats,
    profile,
    staff,
    team,
    views,
)

app_name = "web"
urlpatterns = [
    path("", ratelimit("search-ip", methods=("GET",))(views.home), name="home"),
    # settings.LOGIN_URL points here.
    path("login/", RedirectView.as_view(pattern_name="accounts:login", query_string=True), name="login"),
    path("suggest/places/", views.suggest_places, name="suggest_places"),
    path("suggest/what/", views.suggest_what, name="suggest_what"),
    path("practitioners/<str:practitioner_id>/", views.practitioner, name="practitioner"),
    path("practitioners/<str:practitioner_id>/photo/", profile.practitioner_photo, name="practitioner_photo"),
    # Booking flow
    path("book/", booking.book_start, name="book_start"),
    path("book/hold/", booking.book_hold, name="book_hold"),
    path("book/resume/", booking.book_resume, name="book_resume"),
    path("book/<str:hold_id>/", booking.book_details, name="book_details"),
    path("book/<str:hold_id>/release/", booking.book_release, name="book_release"),
    path("appointments/<str:appointment_id>/confirmed/", booking.book_done, name="book_done"),
    path("appointments/<str:appointment_id>/calendar.ics", booking.appointment_ics, name="appointment_ics"),
    # My account
    path("account/", account.account, name="account"),
    # My data (GDPR: creneau.privacy)
    path("account/my-data/", my_data.my_data, name="my_data"),
    path("account/my-data/<str:patient_id>/<str:fmt>/", my_data.export, name="data_export"),
    path("account/erase/", my_data.erase, name="account_erase"),
    path("account/appointments/<str:appointment_id>/", account.appointment_detail, name="account_appointment"),
    path("account/appointments/<str:appointment_id>/cancel/", account.appointment_cancel_view, name="account_cancel"),
    path("account/appointments/<str:appointment_id>/move/", account.appointment_move, name="account_move"),
    path("account/relatives/add/", account.relative_add, name="relative_add"),
    # Changing one's phone or identity: password typed again first (ASVS 7.5.1).
    path("account/profile/", recent_auth_required(account.profile), name="profile"),
    path("account/phone/", account.phone_verify, name="phone_verify"),
    path("account/calendar/", calendar_feed.calendar_feed, name="calendar_feed"),
    path("calendar/<str:token>.ics", calendar_feed.calendar_feed_ics, name="calendar_feed_ics"),
    # Practice staff
    path("practice/", staff.staff_home, name="staff_home"),
    path("practice/agenda/<str:agenda_id>/", staff.agenda_view, name="staff_agenda"),
    path("practice/agenda/<str:agenda_id>/book/", staff.book_for_caller, name="staff_book"),
    path("practice/appointments/<str:appointment_id>/", staff.appointment_view, name="staff_appointment"),
    path("practice/appointments/<str:appointment_id>/move/", staff.appointment_move, name="staff_move"),
    path("practice/agenda/<str:agenda_id>/calendar/", agenda_feed.staff_agenda_feed, name="staff_agenda_feed"),
    path("agenda-calendar/<str:token>.ics", agenda_feed.agenda_feed_ics, name="agenda_feed_ics"),
    path("practice/patients/", patient_file.patient_search, name="staff_patients"),
    path("practice/statistics/", practice_stats.statistics, name="staff_statistics"),
    path("practice/statistics.csv", practice_stats.statistics_csv, name="staff_statistics_csv"),
    path("practice/patients/<str:patient_id>/", patient_file.patient_file, name="staff_patient"),
    path("practice/organizations/<str:organization_id>/day/", staff.group_day_view, name="staff_group_day"),
    path("practice/agenda/<str:agenda_id>/settings/", staff.settings_view, name="staff_settings"),
    path("practice/motifs/<str:motif_id>/", staff.motif_edit, name="staff_motif"),
    path("practice/agenda/<str:agenda_id>/profile/", profile.practice_profile, name="staff_profile"),
    # The one upload (core/inputlimits.PHOTO_UPLOAD_PATH allows its larger body).
    path("practice/agenda/<str:agenda_id>/photo/", profile.practice_photo, name="staff_photo"),
    # Organization admins run their team (web/team.py); the e-mailed invitation link.
    path("practice/team/", team.team_home, name="team"),
    path("practice/team/<str:organization_id>/invite/", team.team_invite, name="team_invite"),
    path("practice/team/<str:organization_id>/passkeys/", team.team_passkeys, name="team_passkeys"),
    path("practice/team/members/<str:membership_id>/", team.team_member, name="team_member"),
    path("practice/team/members/<str:membership_id>/remove/", team.team_remove, name="team_remove"),
    path("practice/team/invitations/<str:invitation_id>/withdraw/", team.team_revoke, name="team_revoke"),
    path(
        "team/invitation/<str:token>/",
        ratelimit("signup-ip", methods=("POST",))(team.invitation_accept),
        name="team_invitation",
    ),
]
