"""The app's routes (included by config.urls): the image sync and the distribution to the edges."""

from django.urls import re_path

from config.api.routers import path_optional_slash
from photosync.distribution import views as distribution
from photosync.imagesync import views

urlpatterns = [
    path_optional_slash("sync/product-photos", distribution.PhotoListView.as_view(), name="product-photo-list"),
    path_optional_slash(
        "sync/product-photos/status", distribution.StatusReportView.as_view(), name="product-photo-status"
    ),
    re_path(
        r"^sync/product-photos/(?P<photo_id>[^/]+)/download/?$",
        distribution.PhotoDownloadView.as_view(),
        name="product-photo-download",
    ),
    path_optional_slash("sync/sync-images", views.SyncImagesView.as_view(), name="sync-images"),
    path_optional_slash("sync/sync-images/runs", views.ImageSyncRunListView.as_view(), name="image-sync-run-list"),
    re_path(
        r"^sync/sync-images/runs/(?P<run_id>[^/]+)/?$",
        views.ImageSyncRunDetailView.as_view(),
        name="image-sync-run-detail",
    ),
]
