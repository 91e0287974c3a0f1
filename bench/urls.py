"""Production URLs plus the reference view. Never included by config.urls."""

from django.urls import path

from config.urls import urlpatterns as production

from .views import ping

urlpatterns = [path("bench/ping", ping), *production]
