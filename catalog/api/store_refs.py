"""How the API documents a store reference (a store's integer id or its UUID): one pattern for
path parameters, query parameters and body fields, the one ``catalog.access.store_lookup`` accepts."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from catalog.access import STORE_REF_PATTERN

ANCHORED = f"^({STORE_REF_PATTERN})$"


def store_ref_parameter(
    name: str, location: str = OpenApiParameter.QUERY, *, required: bool = False, description: str = ""
) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        location,
        required=required or location == OpenApiParameter.PATH,
        description=description or "The store's integer id or UUID.",
        pattern=ANCHORED,
    )


class StoreRefField(serializers.RegexField):
    """A store's integer id or UUID, as text (the view looks the store up)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "The store's integer id or UUID.")
        kwargs.setdefault("trim_whitespace", False)  # " 1" is no reference, as the pattern says
        super().__init__(ANCHORED, **kwargs)
