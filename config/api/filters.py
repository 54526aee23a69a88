"""Filter fields shared by the apps' django-filter FilterSets."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class NotBlank:
    """A form field of a filter that refuses an empty value (``?created_before=``) instead of
    taking it for an absent one: the schema's format or enum does not allow it either."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError("This value may not be empty.", code="blank")
        return super().clean(value)


class UtcIsoDateTimeField(NotBlank, IsoDateTimeField):
    """ISO 8601, turned to UTC here: an offset PostgreSQL refuses (``+19:17``) or a date
    that overflows once shifted is a 400, never a database error."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class StrictBooleanField(NotBlank, forms.TypedChoiceField):
    """``true``/``false`` (or ``1``/``0``); anything else, empty included, is a validation error, not ignored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")])
        kwargs.setdefault("coerce", lambda value: value in ("true", "1"))
        super().__init__(*args, **kwargs)


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField
