"""Organization admins' pages to grant and revoke API access."""

from django.urls import path

from . import web_views

app_name = "fhir_web"
urlpatterns = [
    path("", web_views.organizations, name="organizations"),
    path("<uuid:organization_id>/", web_views.grants, name="grants"),
    path("<uuid:organization_id>/revoke/<uuid:grant_id>/", web_views.revoke, name="revoke"),
]
