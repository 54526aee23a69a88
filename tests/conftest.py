import tempfile

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from catalog.models import Store, StoreMembership
from catalog.roles import Role
from catalog.tokens import StampedRefreshToken
from config.celery import app as celery_app

pytest_plugins = [
    "tests.plugins.hypothesis_profiles",
    "tests.plugins.services",
    "tests.plugins.worker",
    "tests.plugins.simulator",
    "tests.plugins.s3",
    "tests.plugins.sshd",
    "tests.storesync.receiver",
]

LOOPBACK = ["127.0.0.1", "localhost", "::1"]


@pytest.fixture(scope="session", autouse=True)
def _test_settings():
    """Process-wide settings for the suite (the worker process gets the same via its env)."""
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
    settings.EMBEDDED_SCHEDULER = False  # a test that imports config.asgi starts no beat
    settings.PLATFORM_URL_ALLOWLIST = LOOPBACK
    settings.PLATFORM_RETRY_BACKOFF = 0.01
    # Throttles are tested on their own (tests/config/test_throttling.py); the suite must not trip them.
    settings.API_THROTTLE_RATES = {scope: "100000/min" for scope in settings.API_THROTTLE_RATES}
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="hub-media-")
    celery_app.conf.task_always_eager = True
    yield


@pytest.fixture
def make_user(django_user_model):
    def make(username: str = "user", *, role: Role | None = None, stores=(), superuser: bool = False, **extra):
        user = django_user_model.objects.create_user(
            username=username, password="pass-Word-123", is_superuser=superuser, is_staff=superuser, **extra
        )
        if role:
            user.groups.add(Group.objects.get(name=role.value))
        for store in stores:
            StoreMembership.objects.create(store=store, user=user)
        return user

    return make


@pytest.fixture
def make_store(db):
    counter = iter(range(1, 10_000))

    def make(code: str | None = None, **fields) -> Store:
        number = next(counter)
        return Store.objects.create(
            code=code or f"store-{number}", name=fields.pop("name", f"Store {number}"), **fields
        )

    return make


@pytest.fixture
def store(make_store):
    return make_store("main")


@pytest.fixture
def other_store(make_store):
    return make_store("other")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {StampedRefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api():
    """``api(user)``: an API client authenticated with a real JWT for ``user`` (None: anonymous)."""
    return client_for


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", role=Role.ADMIN)


@pytest.fixture
def superuser(make_user):
    return make_user("root", superuser=True)


@pytest.fixture
def console(client, superuser):
    """The admin site, logged in as a superuser."""
    client.force_login(superuser)
    return client
