from config.api.routers import path_optional_slash
from storesync.api import views

STORE = r"stores/(?P<store_id>[^/]+)/sync"

urlpatterns = [
    path_optional_slash(rf"{STORE}/configure", views.ConfigureView.as_view(), name="store-sync-configure"),
    path_optional_slash(rf"{STORE}/status", views.StatusView.as_view(), name="store-sync-status"),
    path_optional_slash(rf"{STORE}/trigger", views.TriggerView.as_view(), name="store-sync-trigger"),
    path_optional_slash(rf"{STORE}/conflicts", views.ConflictsView.as_view(), name="store-sync-conflicts"),
    path_optional_slash(rf"{STORE}/history", views.HistoryView.as_view(), name="store-sync-history"),
    path_optional_slash(rf"{STORE}/rules", views.RulesView.as_view(), name="store-sync-rules"),
    path_optional_slash(rf"{STORE}/filters", views.FiltersView.as_view(), name="store-sync-filters"),
    path_optional_slash(rf"{STORE}/pause", views.PauseView.as_view(), name="store-sync-pause"),
    path_optional_slash(rf"{STORE}/resume", views.ResumeView.as_view(), name="store-sync-resume"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)", views.JobView.as_view(), name="sync-job"),
    path_optional_slash(
        r"sync/conflicts/(?P<conflict_id>[^/]+)/resolve", views.ResolveView.as_view(), name="sync-conflict-resolve"
    ),
]

# Webhooks in, health metrics, alerts (storesync/api/watch_views.py).
from storesync.api import watch_views  # noqa: E402

urlpatterns += [
    path_optional_slash(
        r"webhooks/(?P<store>[^/]+)/(?P<entity>[^/]+)",
        watch_views.InboundWebhookView.as_view(),
        name="store-sync-webhook",
    ),
    path_optional_slash(r"sync/metrics", watch_views.MetricsView.as_view(), name="sync-metrics"),
    path_optional_slash(r"sync/alerts", watch_views.AlertsView.as_view(), name="sync-alerts"),
    path_optional_slash(
        r"sync/alerts/(?P<alert_id>[^/]+)/acknowledge",
        watch_views.AcknowledgeView.as_view(),
        name="sync-alert-acknowledge",
    ),
]
