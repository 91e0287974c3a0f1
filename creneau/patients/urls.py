from django.urls import path

from . import views

app_name = "patients"
urlpatterns = [
    path("account/my-data/", views.my_data, name="my_data"),
    path("account/my-data/<str:patient_id>/<str:fmt>/", views.export, name="export"),
    path("account/erase/", views.erase, name="erase"),
]
