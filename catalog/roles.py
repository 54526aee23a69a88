"""Roles are Django groups; the API's permission letters map onto model permissions.

C = add, R = view, U = change, D = delete. ``sync_role_permissions`` runs after every
migration so models added by later apps get their grants without a new data migration.
"""

from enum import StrEnum

LETTER_TO_ACTION = {"C": "add", "R": "view", "U": "change", "D": "delete"}


class Role(StrEnum):
    ADMIN = "ADMIN"
    OPERATOR = "OPERATOR"
    EDGE = "EDGE"
    VIEWER = "VIEWER"


# app label -> letters, or "app.model" -> letters (a model entry wins over its app's).
ROLE_GRANTS: dict[Role, dict[str, str]] = {
    Role.ADMIN: {
        "catalog": "CRUD",
        "photosync": "CRUD",
        "nasync": "CRUD",
        "storesync": "CRUD",
        "django_celery_beat": "CRUD",
    },
    Role.OPERATOR: {
        "catalog": "R",
        "catalog.product": "CRU",
        "catalog.customer": "CRU",
        "catalog.order": "R",
        "photosync": "R",
        "nasync": "CRU",
        "storesync": "CRU",
    },
    Role.EDGE: {"catalog.store": "R", "catalog.product": "R", "photosync": "R", "photosync.edgestatusreport": "CRU"},
    Role.VIEWER: {"catalog": "R", "photosync": "R", "nasync": "R", "storesync": "R"},
}


_ROLE_ATTRIBUTE = "_catalog_role"


def user_role(user) -> Role | None:
    """The user's role (the first of their groups that is a role), if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    if hasattr(user, _ROLE_ATTRIBUTE):
        return getattr(user, _ROLE_ATTRIBUTE)
    names = {group.name for group in user.groups.all()}
    return next((role for role in Role if role.value in names), None)


def remember_role(user, role: Role | None) -> None:
    """Let ``user_role`` answer ``role`` for this instance (the token authentication caches it)."""
    setattr(user, _ROLE_ATTRIBUTE, role)


def sync_role_permissions(apps=None, **_kwargs) -> None:
    """Create the role groups and grant each its permissions (idempotent)."""
    if apps is None:
        from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        if getattr(app_config, "models_module", None) is None:
            # Migration state apps carry no models module; create_permissions needs one.
            app_config.models_module = True
            create_permissions(app_config, verbosity=0, apps=apps)
            app_config.models_module = None
        else:
            create_permissions(app_config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.select_related("content_type"))
    for role, grants in ROLE_GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = [perm for perm in permissions if _granted(grants, perm)]
        group.permissions.set(wanted)


def _granted(grants: dict[str, str], perm) -> bool:
    app_label, model = perm.content_type.app_label, perm.content_type.model
    letters = grants.get(f"{app_label}.{model}", grants.get(app_label, ""))
    action = perm.codename.split("_", 1)[0]
    return any(LETTER_TO_ACTION[letter] == action for letter in letters)
