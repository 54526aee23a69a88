"""Routes that answer with and without a trailing slash (a POST is never redirected)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"


def path_optional_slash(route: str, view, name: str | None = None):
    """Like ``path()`` for a literal route (``<str:x>`` style converters are not needed here)."""
    return re_path(rf"^{route.strip('/')}/?$", view, name=name)
