"""Shared viewset pieces: objects addressed by integer id or UUID, store-nested resources."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets

from catalog.access import STORE_REF_PATTERN, get_visible_store, store_lookup
from catalog.api.permissions import ModelPermissions
from catalog.api.store_refs import store_ref_parameter


class IdOrUuidLookupMixin:
    """``/things/12`` and ``/things/<uuid>`` both name the object; anything else is a 404."""

    lookup_value_regex = STORE_REF_PATTERN  # ids and UUIDs alike (the pattern is not only for stores)

    def get_object(self):
        ref = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            lookup = store_lookup(ref)
        except (ValueError, AttributeError):
            raise Http404 from None
        obj = self.filter_queryset(self.get_queryset()).filter(**lookup).first()
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj


@extend_schema(parameters=[store_ref_parameter("store_ref", OpenApiParameter.PATH)])
class StoreNestedViewSet(IdOrUuidLookupMixin, viewsets.GenericViewSet):
    """A resource under ``/stores/{store_ref}/``: the store must be visible to the user."""

    permission_classes = [ModelPermissions]
    model = None

    @property
    def store(self):
        if not hasattr(self, "_store"):
            self._store = get_visible_store(self.request.user, self.kwargs["store_ref"], param="store")
        return self._store

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(store=self.store).order_by("id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and "store_ref" in self.kwargs:
            context["instance_defaults"] = {"store": self.store}
        return context

    def perform_create(self, serializer):
        serializer.save(store=self.store)
