"""HTTP face of the shop simulator: the PrestaShop webservice under ``/api/``
(authentication, routes, images, injected failures) and a JSON control API
under ``/_sim/``, served by a keep-alive threading HTTP server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from shopsim.formats import (
    Reply,
    Request,
    blank_view,
    error_reply,
    json_reply,
    parse_display,
    parse_entity,
    parse_languages,
    parse_limit,
    parse_sort,
    render_entity,
    render_list,
    xml_reply,
)
from shopsim.schema import PRODUCTS, RESOURCES, Resource, SimError
from shopsim.state import Failure, ShopSimulator

logger = logging.getLogger(__name__)

REALM = (
    'Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login.'
    ' No password required."'
)
HUGE_IMAGE_BYTES = 25 * 1024 * 1024
STREAM_CHUNK = 64 * 1024
SHORT_KINDS = {"products": "product", "stock_availables": "stock", "customers": "customer", "orders": "order"}
LIST_KINDS = {
    "products": "products_list",
    "stock_availables": "stock_list",
    "customers": "customers_list",
    "orders": "orders_list",
}


class Unauthenticated(Exception):
    """No key at all: PrestaShop answers plain text, before any XML."""


def failure_reply(failure: Failure, json_output: bool) -> Reply:
    if failure.body == "html":
        page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon.</body></html>"
        reply = Reply(failure.status, page, "text/html; charset=utf-8")
    elif failure.body == "empty":
        reply = Reply(failure.status)
    else:
        reply = error_reply(
            SimError(failure.status, failure.code, f"Simulated failure (HTTP {failure.status})"), json_output
        )
    if failure.retry_after is not None:
        reply.headers["Retry-After"] = str(failure.retry_after)
    return reply


def api_key_of(request: Request) -> str:
    if "ws_key" in request.query:
        return request.query["ws_key"]
    authorization = request.headers.get("Authorization")
    if not authorization or not authorization.lower().startswith("basic "):
        raise Unauthenticated()
    try:
        return base64.b64decode(authorization[6:].strip()).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


def authenticate(shop: ShopSimulator, request: Request) -> None:
    key = api_key_of(request)
    if not key:
        raise SimError(401, 17, "Authentication key is empty")
    if len(key) != 32:
        raise SimError(401, 18, "Invalid authentication key format")
    if key != shop.api_key:
        raise SimError(
            401, 20, "Authentification key is not active", more=((21, "No permission for this authentication key"),)
        )


# The webservice


def handle_api(shop: ShopSimulator, request: Request) -> Reply:
    started = time.monotonic()
    if shop.latency_ms:
        time.sleep(shop.latency_ms / 1000)
    failure = shop.next_failure(request.method)
    if failure is not None and not failure.after:
        shop.stats.add("injected_failures")
        return failure_reply(failure, request.json_output)
    authenticated = False
    try:
        authenticate(shop, request)
        authenticated = True
        reply = route_api(shop, request)
        if failure is not None:  # carried out, its answer lost
            shop.stats.add("injected_failures")
            return failure_reply(failure, request.json_output)
    except Unauthenticated:
        shop.stats.add("auth_failed")
        return Reply(401, b"401 Unauthorized", "text/plain", {"WWW-Authenticate": REALM})
    except SimError as error:
        shop.stats.add("auth_failed" if error.status == 401 else "errors")
        reply = error_reply(error, request.json_output)
    reply.headers |= {
        "Access-Time": str(int(time.time())),
        "X-Powered-By": "PrestaShop Webservice",
        "Execution-Time": f"{time.monotonic() - started:.3f}",
    }
    if authenticated:
        reply.headers["PSWS-Version"] = shop.version
    if reply.status == 401:
        reply.headers["WWW-Authenticate"] = REALM
    return _with_sha1(shop, request, reply)


def _with_sha1(shop: ShopSimulator, request: Request, reply: Reply) -> Reply:
    """``Content-Sha1`` on bodies; ``Local-Content-Sha1`` matching it gives 304 without body."""
    if reply.stream is not None or not reply.body:
        return reply
    sha1 = hashlib.sha1(reply.body).hexdigest()
    if request.method == "GET" and reply.status == 200 and request.headers.get("Local-Content-Sha1") == sha1:
        shop.stats.add("not_modified")
        return Reply(304, headers={k: v for k, v in reply.headers.items()} | {"Content-Sha1": sha1})
    reply.headers["Content-Sha1"] = sha1
    return reply


def route_api(shop: ShopSimulator, request: Request) -> Reply:
    segments = [s for s in request.path.removeprefix("/api").split("/") if s]
    if not segments:
        names = "".join(f'<{name} xlink:href="{request.base_url}/api/{name}" get="true"/>\n' for name in RESOURCES)
        return xml_reply(f'<api shopName="Simulated shop">\n{names}</api>')
    if segments[0] == "images":
        return route_images(shop, request, segments[1:])
    resource = RESOURCES.get(segments[0])
    if resource is None or len(segments) > 2:
        raise SimError(
            400, 27, f'Resource of type "{segments[0]}" does not exists. The full list is: "{", ".join(RESOURCES)}"'
        )
    if request.method == "PATCH" and not shop.accepts_patch:  # PrestaShop 1.7 knows no PATCH
        raise SimError(405, 23, "Method PATCH is not valid")
    if request.method not in resource.methods:
        raise SimError(
            405,
            25,
            f"Method {request.method} is not allowed for the resource {resource.name} with this authentication key",
        )
    if len(segments) == 2 and not segments[1].isdigit():
        return Reply(404)
    record_id = int(segments[1]) if len(segments) == 2 else None
    if request.method == "GET":
        with shop.lock:
            return read(shop, request, resource, record_id)
    if request.method == "DELETE":
        if record_id is None:
            raise SimError(400, 90, "id is required when deleting a resource")
        shop.stats.add(f"{SHORT_KINDS[resource.name]}_delete")
        shop.delete(resource, record_id)
        return Reply(200)
    return write(shop, request, resource)


def read(shop: ShopSimulator, request: Request, resource: Resource, record_id: int | None) -> Reply:
    query, languages = request.query, parse_languages(shop.languages, request.query.get("language"))
    if "schema" in query:
        shop.stats.add("schema_get")
        return render_entity(resource, blank_view(resource, shop.languages), "full", request, languages)
    display = parse_display(resource, query.get("display"))
    if record_id is not None:
        shop.stats.add(f"{SHORT_KINDS[resource.name]}_get")
        if record_id not in shop.records[resource.name]:
            return Reply(404)  # PrestaShop sends no body at all here
        view = shop.view(resource, record_id)
        if display is None:
            return render_entity(resource, view, "full", request, languages, drop_falsy=True)
        return render_list(resource, [view], display, request, languages)
    filters = {k[7:-1]: v for k, v in query.items() if k.startswith("filter[") and k.endswith("]")}
    ids = shop.query(
        resource,
        filters,
        parse_sort(query.get("sort")),
        parse_limit(query.get("limit")),
        dates=query.get("date", "") not in ("", "0"),
    )
    shop.stats.add(LIST_KINDS[resource.name])
    shop.stats.add(f"{LIST_KINDS[resource.name]}_rows", len(ids))  # records served, for the tests
    return render_list(resource, [shop.view(resource, i) for i in ids], display, request, languages)


def write(shop: ShopSimulator, request: Request, resource: Resource) -> Reply:
    record_id, values = parse_entity(resource, request.body)
    if request.method == "POST" and record_id is not None:
        raise SimError(400, 91, "id is forbidden when adding a new resource")
    if request.method != "POST" and record_id is None:
        raise SimError(400, 90, "id is required when modifying a resource")
    shop.stats.add(f"{SHORT_KINDS[resource.name]}_{request.method.lower()}")
    if request.method != "POST":
        shop.stats.add(f"{SHORT_KINDS[resource.name]}_write")  # PUT or PATCH of an existing record
    with shop.lock:
        record_id = shop.write(resource, request.method, values, record_id)
        view = shop.view(resource, record_id)
    reply = render_entity(resource, view, "full", request, shop.languages)
    reply.status = 201 if request.method == "POST" else 200
    return reply


def route_images(shop: ShopSimulator, request: Request, segments: list[str]) -> Reply:
    if (
        request.method != "GET"
        or not segments
        or segments[0] != "products"
        or len(segments) > 3
        or not all(s.isdigit() for s in segments[1:])
    ):
        raise SimError(400, 48, f'Image of type "{"/".join(segments)}" does not exist')
    if len(segments) == 1:
        with shop.lock:
            with_images = [pid for pid, images in shop.images.items() if images]
        items = "".join(
            f'<image id="{pid}" xlink:href="{request.base_url}/api/images/products/{pid}"/>\n' for pid in with_images
        )
        return xml_reply(f"<images>\n{items}</images>")
    product_id = int(segments[1])
    if len(segments) == 2:
        shop.stats.add("image_list")
        return image_list(shop, request, product_id)
    shop.stats.add("image_get")
    return image_binary(shop, request, product_id, int(segments[2]))


def image_list(shop: ShopSimulator, request: Request, product_id: int) -> Reply:
    with shop.lock:
        images = list(shop.images.get(product_id, []))
    if not images:
        return Reply(404)
    if request.json_output:  # broken on real shops (#15499): 500 with PHP notices
        return json_reply(
            {
                "": [{"id": str(product_id)}, *({"id": str(i.id)} for i in images)],
                "errors": [{"code": 5, "message": "[PHP Notice #8] Undefined index: objectsNodeName"}],
            },
            500,
        )
    base = f"{request.base_url}/api/images/products/{product_id}"
    declinations = "".join(f'<declination id="{i.id}" xlink:href="{base}/{i.id}"/>\n' for i in images)
    return xml_reply(f'<image id="{product_id}">\n{declinations}</image>')


def image_binary(shop: ShopSimulator, request: Request, product_id: int, image_id: int) -> Reply:
    with shop.lock:
        image = shop.image(product_id, image_id)
        mode = image.mode
    if mode == "missing":
        raise SimError(500, 61, "This image does not exist on disk")
    if mode in ("huge", "huge_chunked"):
        length = HUGE_IMAGE_BYTES if mode == "huge" else None
        return Reply(200, content_type="image/jpeg", stream=_huge_stream(shop), length=length)
    data, content_type = shop.image_bytes(product_id, image)
    if mode == "html":  # an error page served as the image, as misconfigured shops do
        data, content_type = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>", "image/jpeg"
    elif mode == "corrupt":
        data = data[: len(data) // 2]
    reply = _with_sha1(shop, request, Reply(200, data, content_type))
    if reply.status == 304:
        shop.stats.add("image_not_modified")
    else:
        shop.stats.add("image_bytes_sent", len(data))
    return reply


def _huge_stream(shop: ShopSimulator) -> Iterator[bytes]:
    """A JPEG header followed by zeros, far past any sane size limit."""
    header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    yield header
    sent = len(header)
    while sent < HUGE_IMAGE_BYTES:
        chunk = b"\x00" * min(STREAM_CHUNK, HUGE_IMAGE_BYTES - sent)
        sent += len(chunk)
        shop.stats.add("image_bytes_sent", len(chunk))
        yield chunk


# The control API


def handle_control(shop: ShopSimulator, request: Request) -> Reply:
    try:
        payload = json.loads(request.body or b"{}")
        return json_reply(route_control(shop, request.method, request.path.removeprefix("/_sim/").strip("/"), payload))
    except SimError as error:
        return json_reply({"error": error.message}, error.status)
    except (ValueError, TypeError, KeyError) as error:
        return json_reply({"error": f"bad control request: {error}"}, 400)


def route_control(shop: ShopSimulator, method: str, path: str, payload: dict[str, Any]) -> Any:
    parts = path.split("/")
    if (method, path) == ("GET", "stats"):
        return shop.stats.as_dict()
    if (method, path) == ("POST", "reset_stats"):
        shop.stats.reset()
        return {"ok": True}
    if path == "config":
        if method == "POST":
            shop.configure(payload)
        return shop.config()
    if (method, path) == ("POST", "mutate"):
        ids = payload.get("products")
        return {"mutated": shop.mutate(ids, int(payload.get("count", 1)), payload.get("fields") or {})}
    if len(parts) == 2 and method == "GET" and parts[0] in RESOURCES and parts[1].isdigit():
        if int(parts[1]) not in shop.records[parts[0]]:
            raise SimError(404, 0, f"no {parts[0]} {parts[1]}")
        return shop.raw(RESOURCES[parts[0]], int(parts[1]))
    if len(parts) == 3 and method == "POST" and parts[0] in RESOURCES and parts[1].isdigit() and parts[2] == "delete":
        shop.delete(RESOURCES[parts[0]], int(parts[1]))  # a clerk deletes a record in the shop
        return {"deleted": int(parts[1])}
    if len(parts) == 3 and method == "POST" and parts[0] == "products" and parts[1].isdigit():
        product_id = int(parts[1])
        if product_id not in shop.records["products"]:
            raise SimError(404, 0, f"no product {product_id}")
        if parts[2] == "image":
            image = shop.set_image_mode(product_id, str(payload.get("mode", "normal")), payload.get("image_id"))
            return shop.raw(PRODUCTS, product_id) | {"image": vars(image).copy()}
        if parts[2] == "delete_image":
            shop.delete_image(product_id, payload.get("image_id"))
            return shop.raw(PRODUCTS, product_id)
    raise SimError(404, 0, f"unknown control endpoint {method} /_sim/{path}")


# The server


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply has a length or is chunked
    disable_nagle_algorithm = True  # else each small reply waits ~40 ms for a delayed ACK
    server_version = "Apache"
    timeout = 120  # idle keep-alive connections
    server: SimulatorServer

    def do_GET(self) -> None:
        shop = self.server.shop
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Request(
            self.command,
            url.path,
            dict(parse_qsl(url.query, keep_blank_values=True)),
            self.headers,
            body,
            f"http://{self.headers.get('Host', 'localhost')}",
        )
        try:
            if url.path.startswith("/_sim/"):
                reply = handle_control(shop, request)
            else:
                shop.stats.note(f"{self.command} {unquote_plus(self.path)}")
                reply = handle_api(shop, request)
        except Exception:  # a simulator bug: answer like a crashed PHP page instead of dropping the connection
            logger.exception("The shop simulator failed on %s %s", self.command, self.path)
            reply = Reply(500, b"Internal Server Error", "text/plain")
        self._send(reply)

    do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        chunked = reply.stream is not None and reply.length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(reply.length if reply.stream is not None else len(reply.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            for chunk in reply.stream if reply.stream is not None else [reply.body]:
                self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading (e.g. a size limit)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server serving one :class:`ShopSimulator`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], shop: ShopSimulator) -> None:
        self.shop = shop
        super().__init__(address, SimulatorHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client went away mid-exchange
            return
        logger.exception("The shop simulator failed on a request from %s", client_address)
