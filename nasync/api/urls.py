from django.urls import re_path

from config.api.routers import OptionalSlashRouter, path_optional_slash
from nasync.api import views

router = OptionalSlashRouter()
router.register("documents", views.DocumentViewSet, basename="document")

urlpatterns = [
    path_optional_slash("sync/status", views.SyncStatusView.as_view(), name="nas-sync-status"),
    path_optional_slash("sync/config", views.SyncConfigView.as_view(), name="nas-sync-config"),
    path_optional_slash("sync/test", views.SyncTestView.as_view(), name="nas-sync-test"),
    path_optional_slash("sync/run", views.SyncRunView.as_view(), name="nas-sync-run"),
    re_path(r"^sync/document/(?P<document_id>[0-9]+)/?$", views.SyncDocumentView.as_view(), name="nas-sync-document"),
    path_optional_slash("sync/nas-runs", views.NasSyncRunListView.as_view(), name="nas-run-list"),
    re_path(r"^sync/nas-runs/(?P<run_id>[^/]+)/?$", views.NasSyncRunDetailView.as_view(), name="nas-run-detail"),
    *router.urls,
]
