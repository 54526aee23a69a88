import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from config.jobs import Job


class Platform(models.TextChoices):
    PRESTASHOP = "prestashop", "PrestaShop"
    NONE = "none", "No platform"


class Store(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    code = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Use letters, digits, '-', '_' and '.'.")],
    )
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.NONE)
    platform_url = models.URLField(max_length=500, blank=True)
    platform_api_key = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="StoreMembership", related_name="stores", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        from catalog.platforms import UnsafeURLError, validate_platform_url

        if self.platform != Platform.NONE and not self.platform_url:
            raise ValidationError({"platform_url": "A store on a platform needs the shop's URL."})
        if self.platform_url:
            try:
                validate_platform_url(self.platform_url)
            except UnsafeURLError as exc:
                raise ValidationError({"platform_url": str(exc)}) from None


class StoreMembership(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "user"], name="catalog_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.store}"


class OriginRecord(models.Model):
    """A record that may also exist in the store's shop, where its id is ``id_origin``."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="%(class)ss")
    id_origin = models.PositiveBigIntegerField(null=True, blank=True, help_text="The record's id in the shop.")
    origin_date_upd = models.DateTimeField(null=True, blank=True, help_text="The shop's last modification.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["id"]
        constraints = [
            # NULLs are distinct: records created on the platform have no origin yet.
            models.UniqueConstraint(fields=["store", "id_origin"], name="%(app_label)s_%(class)s_origin_unique"),
        ]
        indexes = [models.Index(fields=["store", "updated_at", "id"], name="%(app_label)s_%(class)s_upd")]


# The one rule for amounts and stock: the API (full_clean), the admin's forms and the store
# sync (catalog.validation.field_problem) all apply the fields' validators.
NOT_NEGATIVE = MinValueValidator(0, "Must not be negative.")


class ProductStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Product(OriginRecord):
    sku = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=255)
    price = models.DecimalField(max_digits=20, decimal_places=6, default=0, validators=[NOT_NEGATIVE])
    inventory = models.IntegerField(default=0, validators=[NOT_NEGATIVE])
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=ProductStatus.choices, default=ProductStatus.ACTIVE)

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})" if self.sku else self.name


class Customer(OriginRecord):
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} <{self.email}>".strip()


class Order(OriginRecord):
    reference = models.CharField(max_length=64, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    status = models.CharField(max_length=64, blank=True)
    total = models.DecimalField(max_digits=20, decimal_places=6, default=0, validators=[NOT_NEGATIVE])
    customer_info = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.reference or f"Order {self.pk}"


class ImportRun(Job):
    """One import of a store's catalogue from its shop."""

    KIND = "catalog_import"
