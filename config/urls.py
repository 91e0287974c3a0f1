"""Root URL configuration."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("fhir/R4/", include("creneau.fhir.urls")),
]
urlpatterns += i18n_patterns(
    path("practice/api-access/", include("creneau.fhir.web_urls")), prefix_default_language=False
)
urlpatterns += i18n_patterns(path("accounts/", include("creneau.accounts.urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.notifications.urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.audit.urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.patients.urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.exports.urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.web.urls")), prefix_default_language=False)
