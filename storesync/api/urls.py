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
    path_optional_slash(r"sync/conflicts/(?P<conflict_id>[^/]+)/resolve", views.ResolveView.as_view(),
                        name="sync-conflict-resolve"),
]
