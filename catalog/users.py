"""Who may manage which user account through the users API (the role hierarchy).

Superusers and ADMIN manage users; only a superuser manages superusers and staff accounts
(they reach the Django admin), and nobody changes their own role or deactivates themselves.
"""

from __future__ import annotations

from catalog.error_codes import CatalogErrorCode
from catalog.roles import user_role
from config.errors import DomainError

# What makes an account privileged: only a superuser grants or withdraws it.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def may_manage_account(actor, target) -> bool:
    """Whether ``actor`` may change ``target`` at all: superuser and staff accounts are a superuser's."""
    return actor.is_superuser or not (target.is_superuser or target.is_staff) or actor.pk == target.pk


def ensure_may_manage(actor, target, changes: dict) -> None:
    """Refuse (403) a change ``actor`` may not make to ``target``; ``changes`` are the validated fields."""
    if (target.is_superuser or target.is_staff) and not actor.is_superuser:
        raise DomainError(
            CatalogErrorCode.SUPERUSER_REQUIRED, 403, "Only a superuser manages superuser and staff accounts."
        )
    if actor.pk != target.pk:
        return
    role = user_role(target)
    if "role" in changes and changes["role"] != (role.value if role else None):
        raise DomainError(CatalogErrorCode.OWN_ACCOUNT_PROTECTED, 403, "Nobody changes their own role.")
    if changes.get("is_active") is False:
        raise DomainError(CatalogErrorCode.OWN_ACCOUNT_PROTECTED, 403, "Nobody deactivates their own account.")


def user_deactivate(*, actor, user) -> None:
    """DELETE on a user: the account stays (its jobs and history name it) but can no longer sign in."""
    ensure_may_manage(actor, user, {"is_active": False})
    user.is_active = False
    user.save(update_fields=["is_active"])
