from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.response import Response

from catalog.access import visible_stores
from catalog.api import filters, serializers
from catalog.api.permissions import ModelPermissions, RoleRequired
from catalog.api.viewsets import IdOrUuidLookupMixin, StoreNestedViewSet
from catalog.models import Customer, Order, Product
from catalog.roles import Role
from catalog.users import ensure_may_manage, user_deactivate


class StoreViewSet(IdOrUuidLookupMixin, viewsets.ModelViewSet):
    """Stores: ADMIN manages them all; other roles read the stores they are members of."""

    serializer_class = serializers.StoreSerializer

    def get_permissions(self):
        if self.request.method in permissions.SAFE_METHODS:
            return [ModelPermissions()]
        return [RoleRequired(Role.ADMIN)(), ModelPermissions()]

    def get_queryset(self):
        from catalog.models import Store

        if getattr(self, "swagger_fake_view", False):
            return Store.objects.none()
        return visible_stores(self.request.user).order_by("id")


class ProductViewSet(
    StoreNestedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    model = Product
    serializer_class = serializers.ProductSerializer
    filterset_class = filters.ProductFilterSet


class CustomerViewSet(StoreNestedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    model = Customer
    serializer_class = serializers.CustomerSerializer
    filterset_class = filters.CustomerFilterSet


class OrderViewSet(StoreNestedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    model = Order
    serializer_class = serializers.OrderSerializer
    filterset_class = filters.OrderFilterSet

    def get_queryset(self):
        return super().get_queryset().select_related("customer")


@extend_schema_view(create=extend_schema(request=serializers.UserCreateSerializer))
class UserViewSet(viewsets.ModelViewSet):
    """Users and their role and stores; superusers and ADMIN only. Only a superuser manages
    superusers and staff; nobody changes their own role or deactivates themselves. DELETE deactivates."""

    serializer_class = serializers.UserSerializer
    permission_classes = [RoleRequired(Role.ADMIN)]

    def get_queryset(self):
        return get_user_model().objects.prefetch_related("groups").order_by("id")

    def perform_update(self, serializer):
        ensure_may_manage(self.request.user, serializer.instance, serializer.validated_data)
        serializer.save()

    def destroy(self, request, *args, **kwargs):
        user_deactivate(actor=request.user, user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
