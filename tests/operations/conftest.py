"""The store sync's fixtures (a simulated shop and its store, quick retries) for the hub-wide tests."""

from tests.storesync.conftest import _quick_retries, shop_store, sim  # noqa: F401  (fixtures)
