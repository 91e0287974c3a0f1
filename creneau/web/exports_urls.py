"""Bulk-export pages of organization admins (namespace `exports`, unchanged since they lived in the exports app)."""

from django.urls import path

from . import exports as views

app_name = "exports"
urlpatterns = [
    path("practice/exports/", views.export_list, name="list"),
    path("practice/exports/<str:export_id>/decide/", views.export_decide, name="decide"),
    path("practice/exports/<str:export_id>/download/", views.export_download, name="download"),
]
