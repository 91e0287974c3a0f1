"""Operators maintain the public directory: organizations, sites, practitioners, specialties."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Organization, Practitioner, PractitionerSite, Site, Specialty
from .services import agendas_ensure


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ("code", "label_fr", "label_en", "slug")
    search_fields = ("code", "label_fr", "label_en")


class SiteInline(admin.StackedInline):
    model = Site
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name",)
    inlines = [SiteInline]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "postcode", "organization", "time_zone")
    list_filter = ("time_zone",)
    search_fields = ("name", "city", "postcode")
    raw_id_fields = ("organization",)


class PractitionerSiteInline(admin.TabularInline):
    model = PractitionerSite
    extra = 0
    raw_id_fields = ("site",)


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ("display_name", "specialty", "rpps", "accepts_new_patients", "is_active")
    list_filter = ("specialty", "accepts_new_patients", "is_active")
    search_fields = ("family_name", "given_name", "rpps")
    inlines = [PractitionerSiteInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """A practitioner linked to a site of a new organization gets that organization's agenda."""
        super().save_related(request, form, formsets, change)
        practitioner = form.instance
        orgs = PractitionerSite.objects.filter(practitioner=practitioner).values_list(
            "site__organization_id", flat=True
        )
        agendas_ensure(links=[(practitioner.pk, o) for o in set(orgs)])
