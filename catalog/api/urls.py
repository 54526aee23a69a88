from catalog.api import views
from config.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("stores", views.StoreViewSet, basename="store")
router.register(r"stores/(?P<store_ref>[^/]+)/products", views.ProductViewSet, basename="store-product")
router.register(r"stores/(?P<store_ref>[^/]+)/customers", views.CustomerViewSet, basename="store-customer")
router.register(r"stores/(?P<store_ref>[^/]+)/orders", views.OrderViewSet, basename="store-order")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = router.urls
