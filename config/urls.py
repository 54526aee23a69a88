from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenRefreshView, TokenVerifyView

from config import health
from config.admin import throttled_admin_login
from config.api.auth import ThrottledTokenObtainPairView
from config.api.routers import path_optional_slash
from operations.console import dashboard_view, progress_view, retention_view
from operations.metrics import metrics_view

api_v1 = [
    path_optional_slash("auth/token", ThrottledTokenObtainPairView.as_view(), name="token-obtain"),
    path_optional_slash("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path_optional_slash("auth/token/verify", TokenVerifyView.as_view(), name="token-verify"),
    path("", include("catalog.api.urls")),
    path("", include("photosync.api.urls")),
    path("", include("nasync.api.urls")),
    path("", include("storesync.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="prometheus-metrics"),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/dashboard/progress/", admin.site.admin_view(progress_view), name="admin-dashboard-progress"),
    path("admin/retention/", admin.site.admin_view(retention_view), name="admin-retention"),
    path("admin/login/", throttled_admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path_optional_slash("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path_optional_slash("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path_optional_slash("api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]


if not settings.AWS_STORAGE_BUCKET_NAME:
    # Product photos on local storage (embedded and edge modes), through signed links only.
    # Only the products/ folder: documents in the same storage are never served.
    urlpatterns.append(re_path(rf"^{settings.MEDIA_URL.strip('/')}/products/", include("photosync.imagesync.media")))

handler400 = "config.api.exceptions.handler400"
handler403 = "config.api.exceptions.handler403"
handler404 = "config.api.exceptions.handler404"
handler500 = "config.api.exceptions.handler500"
