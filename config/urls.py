"""Root URL configuration."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from creneau.core import failures
from creneau.observability.metrics import metrics_view

# An unavailable database or Redis answers 503 + Retry-After wherever it is raised (creneau.core.failures).
handler500 = "creneau.core.failures.server_error"

urlpatterns: list[URLPattern | URLResolver] = [
    # For load balancers: the process is up; the database answers (Redis reported, not required).
    path("healthz", failures.healthz, name="healthz"),
    path("readyz", failures.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("fhir/R4/", include("creneau.fhir.urls")),
    # Prometheus, for operators: a bearer token, and not forwarded by the reverse proxy (deploy/).
    path("metrics", metrics_view, name="metrics"),
]
urlpatterns += i18n_patterns(
    path("practice/api-access/", include("creneau.fhir.web_urls")), prefix_default_language=False
)
urlpatterns += i18n_patterns(path("accounts/", include("creneau.web.accounts_urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.web.notification_urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.web.privacy_urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.web.exports_urls")), prefix_default_language=False)
urlpatterns += i18n_patterns(path("", include("creneau.web.urls")), prefix_default_language=False)
