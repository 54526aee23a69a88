"""Tokens that end when the account changes: every JWT carries a stamp of the user's access.

The stamp is an HMAC (keyed by SECRET_KEY) of the password hash, the active, superuser and
staff flags, the groups (roles) and the store memberships. A change to any of them, made
through the API, the Django admin, the shell or a bulk update, changes the stamp, and every
token issued before it is refused: access tokens by the authentication class, refresh
tokens by the refresh serializer, both by verify, and open event streams at their next
check. The stamp is computed, not stored, so no code path can forget to bump it.
"""

from __future__ import annotations

from django.utils.crypto import salted_hmac
from drf_spectacular.contrib import rest_framework_simplejwt as simplejwt_schema
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from catalog.models import StoreMembership

STAMP_CLAIM = "stamp"


def account_stamp(user) -> str:
    groups = sorted(user.groups.values_list("pk", flat=True))
    stores = sorted(StoreMembership.objects.filter(user=user).values_list("store_id", flat=True))
    state = f"{user.password}|{user.is_active}|{user.is_superuser}|{user.is_staff}|{groups}|{stores}"
    return salted_hmac("catalog.tokens.account_stamp", state).hexdigest()[:32]


class StampedRefreshToken(RefreshToken):
    """simplejwt's refresh token with the stamp; its access tokens copy the claim."""

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[STAMP_CLAIM] = account_stamp(user)
        return token


class StampedJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, refusing a token whose account changed since it was issued."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)  # unknown or inactive users are refused here
        if validated_token.get(STAMP_CLAIM) != account_stamp(user):
            raise AuthenticationFailed("The token was revoked: the account changed since.", code="token_revoked")
        return user


def current_token_user(token):
    """The token's user if the token is still current; AuthenticationFailed otherwise."""
    return StampedJWTAuthentication().get_user(token)


# The token endpoints' serializers (SIMPLE_JWT settings). They keep simplejwt's class names
# so the OpenAPI components keep theirs.


class TokenObtainPairSerializer(serializers.TokenObtainPairSerializer):
    token_class = StampedRefreshToken


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    def validate(self, attrs):
        current_token_user(self.token_class(attrs["refresh"]))
        return super().validate(attrs)


class TokenVerifySerializer(serializers.TokenVerifySerializer):
    def validate(self, attrs):
        current_token_user(UntypedToken(attrs["token"]))
        return super().validate(attrs)


# drf-spectacular documents simplejwt's own classes only: the same documentation for these.
class _ObtainSchema(simplejwt_schema.TokenObtainPairSerializerExtension):
    target_class = TokenObtainPairSerializer


class _RefreshSchema(simplejwt_schema.TokenRefreshSerializerExtension):
    target_class = TokenRefreshSerializer


class _VerifySchema(simplejwt_schema.TokenVerifySerializerExtension):
    target_class = TokenVerifySerializer


class _AuthenticationSchema(simplejwt_schema.SimpleJWTScheme):
    target_class = StampedJWTAuthentication
