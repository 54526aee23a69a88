"""The ASGI handler (config.handlers): the middleware chain and the view run synchronously,
entered once per request, and requests answer as under Django's own handler."""

import hashlib

import httpx
import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction

from config.handlers import SyncChainASGIHandler
from tests.photosync.conftest import make_photo  # noqa: F401  (fixture)

MODES: list[str] = []


class ModeProbe:
    """A middleware able to run either way: it records the mode Django gave it."""

    sync_capable = async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        MODES.append("async" if self.is_async else "sync")
        return self.get_response(request)


def _get(handler, path: str) -> httpx.Response:
    async def call():
        transport = httpx.ASGITransport(app=handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path)

    return async_to_sync(call)()


@pytest.fixture
def probed(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.ModeProbe"]
    MODES.clear()
    return SyncChainASGIHandler()


def test_the_chain_runs_in_sync_mode_even_where_a_middleware_could_run_async(probed):
    response = _get(probed, "/healthz")

    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["X-Request-ID"]  # the outermost middleware ran
    assert MODES == ["sync"]  # Django's own handler gives this innermost one the async mode


def test_errors_answer_as_before(probed):
    response = _get(probed, "/api/v1/no-such-endpoint/")

    assert response.status_code == 404
    assert response.headers["X-Request-ID"]


@pytest.mark.django_db(transaction=True)  # the handler's threads use connections of their own
def test_a_download_streams_through_the_handler(make_user, store, make_photo, recwarn):  # noqa: F811
    from catalog.roles import Role
    from catalog.tokens import StampedRefreshToken

    photo = make_photo(store)
    token = StampedRefreshToken.for_user(make_user("edge-asgi", role=Role.EDGE, stores=[store])).access_token

    async def fetch():
        transport = httpx.ASGITransport(app=SyncChainASGIHandler())
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(
                f"/api/v1/sync/product-photos/{photo.pk}/download/",
                params={"store_id": store.pk},
                headers={"Authorization": f"Bearer {token}"},
            )

    response = async_to_sync(fetch)()

    assert response.status_code == 200 and hashlib.md5(response.content).hexdigest() == photo.checksum
    assert not [w for w in recwarn if "consume synchronous iterators" in str(w.message)]
