from django.core.management.base import CommandError

from catalog.access import store_lookup
from catalog.models import Store


def store_from_option(ref: str) -> Store:
    """A store named by integer id, UUID or code."""
    try:
        lookup = store_lookup(ref)
    except ValueError:
        lookup = {"code": ref}
    store = Store.objects.filter(**lookup).first()
    if store is None:
        raise CommandError(f"No store {ref!r} (give its id, UUID or code).")
    return store
