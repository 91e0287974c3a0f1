"""Account pages of the notifications app (included inside i18n_patterns)."""

from django.urls import path

from . import notification_views as views

app_name = "notifications"
urlpatterns = [
    path("account/messages/", views.messages, name="messages"),
    path("account/waiting-list/", views.waitlist_page, name="waitlist"),
    path("account/waiting-list/join/", views.waitlist_join, name="waitlist_join"),
    path("account/waiting-list/offers/<str:offer_id>/", views.offer, name="offer"),
]
