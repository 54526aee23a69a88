from config.api.routers import path_optional_slash
from storesync.api import views
from storesync.health import views as health_views
from storesync.webhooks import views as webhook_views

STORE = r"stores/(?P<store_id>[^/]+)/sync"

urlpatterns = [
    path_optional_slash(rf"{STORE}/configure", views.ConfigureView.as_view(), name="store-sync-configure"),
    path_optional_slash(rf"{STORE}/status", views.StatusView.as_view(), name="store-sync-status"),
    path_optional_slash(rf"{STORE}/trigger", views.TriggerView.as_view(), name="store-sync-trigger"),
    path_optional_slash(rf"{STORE}/preview", views.PreviewView.as_view(), name="store-sync-preview"),
    path_optional_slash(rf"{STORE}/conflicts", views.ConflictsView.as_view(), name="store-sync-conflicts"),
    path_optional_slash(rf"{STORE}/history", views.HistoryView.as_view(), name="store-sync-history"),
    path_optional_slash(
        rf"{STORE}/records/(?P<entity>[^/]+)/(?P<record_pk>[^/]+)",
        views.RecordLineageView.as_view(),
        name="store-sync-record-lineage",
    ),
    path_optional_slash(rf"{STORE}/rules", views.RulesView.as_view(), name="store-sync-rules"),
    path_optional_slash(rf"{STORE}/filters", views.FiltersView.as_view(), name="store-sync-filters"),
    path_optional_slash(rf"{STORE}/pause", views.PauseView.as_view(), name="store-sync-pause"),
    path_optional_slash(rf"{STORE}/resume", views.ResumeView.as_view(), name="store-sync-resume"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)", views.JobView.as_view(), name="sync-job"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)/changes", views.ChangesView.as_view(), name="sync-job-changes"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)/undo", views.UndoView.as_view(), name="sync-job-undo"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)/approve", views.ApproveView.as_view(), name="sync-job-approve"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)/reject", views.RejectView.as_view(), name="sync-job-reject"),
    path_optional_slash(r"sync/jobs/(?P<job_id>[^/]+)/apply", views.ApplyView.as_view(), name="sync-job-apply"),
    path_optional_slash(
        r"sync/conflicts/(?P<conflict_id>[^/]+)/resolve", views.ResolveView.as_view(), name="sync-conflict-resolve"
    ),
]

# The wings: webhooks in (storesync/webhooks/views.py), health metrics and alerts (storesync/health/views.py).
urlpatterns += [
    path_optional_slash(
        r"webhooks/(?P<store>[^/]+)/(?P<entity>[^/]+)",
        webhook_views.InboundWebhookView.as_view(),
        name="store-sync-webhook",
    ),
    path_optional_slash(r"sync/metrics", health_views.MetricsView.as_view(), name="sync-metrics"),
    path_optional_slash(r"sync/alerts", health_views.AlertsView.as_view(), name="sync-alerts"),
    path_optional_slash(
        r"sync/alerts/(?P<alert_id>[^/]+)/acknowledge",
        health_views.AcknowledgeView.as_view(),
        name="sync-alert-acknowledge",
    ),
]
