"""Permission classes for roles (Django groups) and the API's permission letters."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission, DjangoModelPermissions

from catalog.access import has_letters
from catalog.roles import Role, user_role


def RoleRequired(*roles: Role) -> type[BasePermission]:
    """Allow superusers and users whose role is one of ``roles``."""

    class _RoleRequired(BasePermission):
        message = f"This action requires the role {' or '.join(roles)}."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and (user.is_superuser or user_role(user) in roles))

    _RoleRequired.__name__ = f"RoleRequired_{'_'.join(roles)}"
    return _RoleRequired


def LettersRequired(model_label: str, letters: str) -> type[BasePermission]:
    """Allow users holding the permission letters on a model (superusers hold them all)."""

    class _LettersRequired(BasePermission):
        message = f"This action requires the '{letters}' permission on {model_label}."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and has_letters(user, model_label, letters))

    _LettersRequired.__name__ = f"LettersRequired_{model_label.replace('.', '_')}_{letters}"
    return _LettersRequired


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, with reads requiring the view (R) permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # A method the view does not serve is a 405 before anything else: DRF's check reads the
        # view's queryset first, which may look up a store and answer 404 to a TRACE.
        if request.method.upper() not in view.allowed_methods:
            raise exceptions.MethodNotAllowed(request.method)
        return super().has_permission(request, view)
