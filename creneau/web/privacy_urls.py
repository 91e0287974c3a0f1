from django.urls import path

from . import journal as views

app_name = "privacy"
urlpatterns = [path("account/access-journal/", views.journal, name="journal")]
