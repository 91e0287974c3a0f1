"""Operators maintain the public directory: organizations, sites, practitioners, specialties."""

from __future__ import annotations

from django.contrib import admin

from .models import Organization, Practitioner, PractitionerSite, Site, Specialty


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
