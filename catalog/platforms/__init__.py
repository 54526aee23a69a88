"""E-commerce platform connectors.

``create_ecommerce_service(store)`` gives the connector of a store's shop; the
connectors are registered by platform name with :func:`register_platform`.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from .base import (
    CUSTOMER_FIELDS,
    PRODUCT_FIELDS,
    EcommerceService,
    Extent,
    ImageFetch,
    RemoteCustomer,
    RemoteOrder,
    RemoteProduct,
)
from .errors import (
    ImageTooLarge,
    PartialCreate,
    PlatformAuthError,
    PlatformBadResponse,
    PlatformError,
    PlatformNetworkError,
    PlatformNotConfigured,
    PlatformNotFound,
    PlatformRateLimited,
    PlatformServerError,
    PlatformTimeout,
    PlatformUnsupported,
    PlatformValidationError,
    UnsafeURLError,
)
from .prestashop import PrestaShopService
from .urlguard import guarded_client, validate_platform_url

__all__ = [
    "CUSTOMER_FIELDS",
    "PLATFORMS",
    "PRODUCT_FIELDS",
    "EcommerceService",
    "Extent",
    "ImageFetch",
    "ImageTooLarge",
    "PartialCreate",
    "PlatformAuthError",
    "PlatformBadResponse",
    "PlatformError",
    "PlatformNetworkError",
    "PlatformNotConfigured",
    "PlatformNotFound",
    "PlatformRateLimited",
    "PlatformServerError",
    "PlatformTimeout",
    "PlatformUnsupported",
    "PlatformValidationError",
    "PrestaShopService",
    "RemoteCustomer",
    "RemoteOrder",
    "RemoteProduct",
    "UnsafeURLError",
    "create_ecommerce_service",
    "guarded_client",
    "register_platform",
    "validate_platform_url",
]

NO_PLATFORM = frozenset({"", "none"})

PLATFORMS: dict[str, type[EcommerceService]] = {}
ServiceClass = TypeVar("ServiceClass", bound=type[EcommerceService])


def register_platform(cls: ServiceClass) -> ServiceClass:
    """Class decorator: make a connector available under its ``platform`` name."""
    PLATFORMS[cls.platform] = cls
    return cls


register_platform(PrestaShopService)


class StoreLike(Protocol):
    platform: str
    platform_url: str
    platform_api_key: str


def create_ecommerce_service(store: StoreLike) -> EcommerceService:
    """The connector for ``store``'s shop.

    Raises :class:`PlatformNotConfigured` when the store has no platform or no
    URL, :class:`PlatformUnsupported` for a platform without a connector.
    """
    platform = (store.platform or "").strip().lower()
    if platform in NO_PLATFORM:
        raise PlatformNotConfigured("This store is not connected to an e-commerce platform.")
    if not store.platform_url:
        raise PlatformNotConfigured("This store has no shop URL configured.")
    try:
        service_class = PLATFORMS[platform]
    except KeyError:
        raise PlatformUnsupported(f"The platform {store.platform!r} is not supported.") from None
    return service_class(store.platform_url, store.platform_api_key)
