from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.http import Http404, HttpResponse
from django.urls import reverse
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from catalog.models import Customer, ImportRun, Order, Product, Store, StoreMembership
from catalog.services import start_product_import
from catalog.users import PRIVILEGE_FIELDS, may_manage_account
from config.activity import store_overview
from config.admin import JobAdmin
from config.errors import DomainError
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
    # The store's page is its hub: health, pending work, runs, links (the overview), and its
    # actions as detail actions, which the feature apps add with add_detail_action.
    change_form_before_template = "admin/catalog/store/overview.html"
    actions_detail: list[str] = []

    def change_view(self, request, object_id, form_url="", extra_context=None):
        store = self.get_object(request, unquote(object_id))
        if store is not None:
            extra_context = {**(extra_context or {}), **store_overview(request.user, store)}
        return super().change_view(request, object_id, form_url, extra_context)

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

    @classmethod
    def add_detail_action(
        cls,
        name: str,
        run: Callable[..., str],
        *,
        description: str,
        confirm: str,
        icon: str | None = None,
        permission: str = "change",
        variant: ActionVariant = ActionVariant.DEFAULT,
        group: str = "",
    ) -> None:
        """A button on the store's page (in the ``group`` dropdown, if given, so the bar fits a
        1366 px screen). ``run(store, user)`` calls the app's service and answers what it did; a
        :class:`DomainError` it raises is shown as an error. The button opens a confirmation
        dialog, and the action runs on its POST (never on a GET)."""

        def detail_action(self, request, form, object_id):
            store = self.get_object(request, unquote(object_id))
            if store is None:
                raise Http404("No such store.")
            try:
                done = run(store, request.user)
            except DomainError as exc:
                self.message_user(request, f"{store}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{store}: {done}", messages.SUCCESS)
            page = reverse(f"{self.admin_site.name}:catalog_store_change", args=[store.pk])
            return HttpResponse(headers={"HX-Redirect": page})

        detail_action.__name__ = name
        if "." in permission:
            # An "app.codename" permission, checked by a has_<name>_permission method: unfold's
            # system check would look a dotted one up in the database, before any migration.
            setattr(cls, f"has_{name}_permission", lambda self, request, obj=None: request.user.has_perm(permission))
            permission = name
        setattr(
            cls,
            name,
            action(
                detail_action,
                description=description,
                icon=icon,
                permissions=[permission],
                variant=variant,
                dialog={"title": description, "description": confirm, "form_submit_text": description},
            ),
        )
        if not group:
            cls.actions_detail = [*cls.actions_detail, name]
            return
        menus = [entry for entry in cls.actions_detail if isinstance(entry, dict) and entry["title"] == group]
        if menus:
            menus[0]["items"].append(name)
        else:
            cls.actions_detail = [*cls.actions_detail, {"title": group, "icon": icon, "items": [name]}]


def _import_products(store: Store, user) -> str:
    job = start_product_import(store, trigger=JobTrigger.ADMIN, user=user)
    return f"product import queued ({job.pk})."


StoreAdmin.add_detail_action(
    "import_products_detail",
    _import_products,
    description="Import products",
    confirm="Read the shop's catalogue into the hub now.",
    icon="download",
)


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
