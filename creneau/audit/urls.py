from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [path("account/access-journal/", views.journal, name="journal")]
