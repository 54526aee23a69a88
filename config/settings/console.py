"""The operators' console (the Django admin, themed by django-unfold): branding and navigation."""

from django.urls import reverse_lazy

UNFOLD = {
    "SITE_TITLE": "Retail Sync Hub",
    "SITE_HEADER": "Retail Sync Hub",
    "SITE_SUBHEADER": "Operators' console",
    # "View site" and the header's title lead to the operations dashboard (the hub has no public site).
    "SITE_URL": reverse_lazy("admin-dashboard"),
    "SHOW_VIEW_ON_SITE": False,
}
