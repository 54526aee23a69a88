"""The catalogue's field rules applied to values arriving from a shop (the import, the store sync)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


def field_problem(model: type[models.Model], attribute: str, value: Any) -> str | None:
    """What the catalogue model's field refuses in ``value`` (its validators, length, choices,
    blank), None if nothing: the rules its ``full_clean()`` applies in the API and the admin."""
    try:
        model._meta.get_field(attribute).clean(value, None)
    except ValidationError as exc:
        return "; ".join(exc.messages)
    return None
