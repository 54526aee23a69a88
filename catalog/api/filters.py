import django_filters

from catalog.models import Customer, Order, Product, ProductStatus
from config.api.filters import StrictBooleanFilter, UtcIsoDateTimeFilter


class OriginRecordFilterSet(django_filters.FilterSet):
    updated_since = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    has_origin = StrictBooleanFilter(field_name="id_origin", lookup_expr="isnull", exclude=True)


class ProductFilterSet(OriginRecordFilterSet):
    sku = django_filters.CharFilter(field_name="sku")
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices)

    class Meta:
        model = Product
        fields = ["sku", "status", "updated_since", "has_origin"]


class CustomerFilterSet(OriginRecordFilterSet):
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["email", "updated_since", "has_origin"]


class OrderFilterSet(OriginRecordFilterSet):
    status = django_filters.CharFilter(field_name="status")

    class Meta:
        model = Order
        fields = ["status", "updated_since", "has_origin"]
