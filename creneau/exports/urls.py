from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("practice/exports/", views.export_list, name="list"),
    path("practice/exports/<str:export_id>/decide/", views.export_decide, name="decide"),
    path("practice/exports/<str:export_id>/download/", views.export_download, name="download"),
]
