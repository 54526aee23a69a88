from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework import serializers

from catalog.models import Customer, Order, Product, Store, StoreMembership
from catalog.roles import Role, user_role
from config.api.serializers import FullCleanModelSerializer

User = get_user_model()


class StoreSerializer(FullCleanModelSerializer):
    platform_api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=255, trim_whitespace=True
    )
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = Store
        fields = [
            "id",
            "uuid",
            "name",
            "code",
            "platform",
            "platform_url",
            "platform_api_key",
            "has_api_key",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "uuid", "created_at", "updated_at"]

    def get_has_api_key(self, store: Store) -> bool:
        return bool(store.platform_api_key)


class ProductSerializer(FullCleanModelSerializer):
    store = serializers.IntegerField(source="store_id", read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "uuid",
            "store",
            "id_origin",
            "sku",
            "name",
            "price",
            "inventory",
            "description",
            "status",
            "origin_date_upd",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "uuid", "store", "origin_date_upd", "created_at", "updated_at"]


class CustomerSerializer(serializers.ModelSerializer):
    store = serializers.IntegerField(source="store_id", read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "uuid",
            "store",
            "id_origin",
            "email",
            "first_name",
            "last_name",
            "origin_date_upd",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    store = serializers.IntegerField(source="store_id", read_only=True)
    customer = serializers.UUIDField(source="customer.uuid", read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "uuid",
            "store",
            "id_origin",
            "reference",
            "customer",
            "status",
            "total",
            "customer_info",
            "origin_date_upd",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})
    # null for an account that holds no role: a superuser, who may do everything without one.
    role = serializers.ChoiceField(choices=[role.value for role in Role], required=False, allow_null=True)
    stores = serializers.PrimaryKeyRelatedField(queryset=Store.objects.all(), many=True, required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "password",
            "role",
            "stores",
            "is_active",
            "is_superuser",
            "date_joined",
            "last_login",
        ]
        read_only_fields = ["id", "is_superuser", "date_joined", "last_login"]

    def to_representation(self, user):
        data = super().to_representation(user)
        role = user_role(user)
        data["role"] = role.value if role else None
        data["stores"] = sorted(user.store_memberships.values_list("store_id", flat=True))
        return data

    def validate(self, attrs):
        if self.instance is None:  # UserCreateSerializer states these in the schema
            for name in ("password", "role"):
                if not attrs.get(name):
                    raise serializers.ValidationError({name: "This field is required."})
        if attrs.get("password"):
            candidate = self.instance or User(username=attrs.get("username", ""), email=attrs.get("email", ""))
            try:
                password_validation.validate_password(attrs["password"], candidate)
            except Exception as exc:  # django.core.exceptions.ValidationError
                raise serializers.ValidationError({"password": list(getattr(exc, "messages", [str(exc)]))}) from None
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        return self._save(User(), validated_data)

    @transaction.atomic
    def update(self, user, validated_data):
        return self._save(user, validated_data)

    def _save(self, user, data):
        role = data.pop("role", None)
        stores = data.pop("stores", None)
        password = data.pop("password", None)
        for key, value in data.items():
            setattr(user, key, value)
        if password:
            user.set_password(password)
        user.save()
        if role:
            user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
            user.groups.add(Group.objects.get(name=role))
        if stores is not None:
            StoreMembership.objects.filter(user=user).exclude(store__in=stores).delete()
            for store in stores:
                StoreMembership.objects.get_or_create(user=user, store=store)
        return user


class UserCreateSerializer(UserSerializer):
    """The schema of a new account's request: its password and role are required (which
    ``UserSerializer.validate`` enforces; the view keeps ``UserSerializer`` for its answers)."""

    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    role = serializers.ChoiceField(choices=[role.value for role in Role])
