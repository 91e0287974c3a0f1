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
