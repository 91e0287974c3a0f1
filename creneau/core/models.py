"""Shared model bases."""

from __future__ import annotations

import uuid

from django.db import models


class PublicModel(models.Model):
    """Random UUID primary key: ids that reach a URL or an API cannot be guessed or enumerated."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class PeriodicJobClaim(models.Model):
    """One row per periodic job (creneau.core.periodic): when it is next due and which worker last took
    it. A worker claims a run with one conditional UPDATE (`due_at <= now`), so of several workers
    (several machines, or several processes without a shared cache) exactly one runs each interval."""

    name = models.CharField(primary_key=True, max_length=100)
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField()
    # host:pid of the worker that ran it last (operations, not personal data).
    claimed_by = models.CharField(max_length=120)

    def __str__(self) -> str:
        return self.name
