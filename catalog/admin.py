from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from catalog.models import Customer, ImportRun, Order, Product, Store, StoreMembership
from catalog.services import start_product_import
from catalog.users import PRIVILEGE_FIELDS, may_manage_account
from config.admin import JobAdmin
from config.jobs import BrokerUnavailable, JobAlreadyRunning, JobTrigger


class StoreAdminForm(forms.ModelForm):
    platform_url = forms.URLField(required=False, assume_scheme="https", max_length=500)
    platform_api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave blank to keep the current key.",
    )

    class Meta:
        model = Store
        fields = "__all__"

    def clean_platform_api_key(self) -> str:
        return self.cleaned_data["platform_api_key"] or (self.instance.platform_api_key if self.instance.pk else "")


class MembershipInline(TabularInline):
    model = StoreMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Store)
class StoreAdmin(ModelAdmin):
    form = StoreAdminForm
    list_display = ["id", "code", "name", "platform", "platform_url", "is_active", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["code", "name", "uuid"]
    readonly_fields = ["uuid", "created_at", "updated_at"]
    inlines = [MembershipInline]
    actions = ["import_products"]

    @admin.action(description="Import products from the shop")
    def import_products(self, request, queryset) -> None:
        for store in queryset:
            try:
                job = start_product_import(store, trigger=JobTrigger.ADMIN, user=request.user)
            except JobAlreadyRunning as exc:
                self.message_user(request, f"{store}: an import is already running ({exc.job.pk}).", messages.WARNING)
            except BrokerUnavailable as exc:
                self.message_user(request, f"{store}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{store}: import queued ({job.pk}).", messages.SUCCESS)

    @classmethod
    def add_action(cls, action) -> None:
        """Feature apps add their store actions here (photosync's "Sync images now")."""
        cls.actions = [*cls.actions, action]


@admin.register(Product)
class ProductAdmin(ModelAdmin):
    list_display = ["id", "store", "sku", "name", "price", "inventory", "status", "id_origin", "updated_at"]
    list_filter = ["store", "status"]
    search_fields = ["sku", "name", "uuid"]
    readonly_fields = ["uuid", "origin_date_upd", "created_at", "updated_at"]
    list_select_related = ["store"]


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    list_display = ["id", "store", "email", "first_name", "last_name", "id_origin", "updated_at"]
    list_filter = ["store"]
    search_fields = ["email", "last_name"]
    readonly_fields = ["uuid", "origin_date_upd", "created_at", "updated_at"]
    list_select_related = ["store"]


@admin.register(Order)
class OrderAdmin(ModelAdmin):
    list_display = ["id", "store", "reference", "status", "total", "id_origin", "updated_at"]
    list_filter = ["store", "status"]
    search_fields = ["reference"]
    readonly_fields = ["uuid", "origin_date_upd", "created_at", "updated_at"]
    list_select_related = ["store"]
    raw_id_fields = ["customer"]


@admin.register(ImportRun)
class ImportRunAdmin(JobAdmin):
    pass


# Users and groups in the console's theme (the stock pages with the theme's forms).
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin, ModelAdmin):
    """The users API's hierarchy (catalog.users) on the console's user pages."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else (*readonly, *PRIVILEGE_FIELDS)

    def has_change_permission(self, request, obj=None) -> bool:
        may = obj is None or may_manage_account(request.user, obj)
        return may and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        may = obj is None or (may_manage_account(request.user, obj) and obj.pk != request.user.pk)
        return may and super().has_delete_permission(request, obj)


@admin.register(Group)
class GroupAdmin(auth_admin.GroupAdmin, ModelAdmin):
    pass
