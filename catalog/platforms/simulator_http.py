"""HTTP face of the shop simulator: the PrestaShop webservice under ``/api/``
(formats, auth, errors, quirks) and a JSON control API under ``/_sim/``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import quoteattr

from .simulator_state import PRODUCTS, RESOURCES, Failure, Resource, ShopSimulator, SimError

logger = logging.getLogger(__name__)

XML_TYPE = "text/xml;charset=utf-8"
JSON_TYPE = "application/json"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
XML_TAIL = "</prestashop>\n"
REALM = 'Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login. No password required."'
HUGE_IMAGE_BYTES = 25 * 1024 * 1024
STREAM_CHUNK = 64 * 1024
SHORT_KINDS = {"products": "product", "stock_availables": "stock", "customers": "customer", "orders": "order"}
LIST_KINDS = {"products": "products_list", "stock_availables": "stock_list", "customers": "customers_list",
              "orders": "orders_list"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    base_url: str

    @property
    def json_output(self) -> bool:
        """Only the exact string ``JSON`` selects JSON, looked up in PrestaShop's order."""
        for value in (self.headers.get("Io-Format"), self.headers.get("Output-Format"),
                      self.query.get("output_format"), self.query.get("io_format")):
            if value is not None:
                return value == "JSON"
        return False


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    length: int | None = None  # for streams; None sends the stream chunked


class Unauthenticated(Exception):
    """No key at all: PrestaShop answers plain text, before any XML."""


# Rendering


def _cdata(value: str) -> str:
    return f"<![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]>" if value else ""


def _href(base: str, link: str, record_id: str, value: str) -> str:
    return f' xlink:href={quoteattr(f"{base}/api/{link.format(id=record_id)}/{value}")}'


def _select(resource: Resource, display: Any) -> tuple[list[Any], list[tuple[Any, tuple[str, ...]]]]:
    """Fields and associations (with their sub-fields) a ``display`` value shows."""
    if display == "full":
        return list(resource.fields), [(a, a.fields) for a in resource.associations]
    fields = [f for f in resource.fields if f.name in display and display[f.name] is None]
    associations = [(a, tuple(display[a.name])) for a in resource.associations if display.get(a.name)]
    return fields, associations


def xml_entity(resource: Resource, view: Mapping[str, Any], display: Any, base: str, languages: tuple[int, ...]) -> str:
    fields, associations = _select(resource, display)
    record_id = view["id"]
    out = [f"<{resource.singular}>"]
    for f in fields:
        value = view[f.name]
        attrs = _href(base, f.link, record_id, value) if f.link and value not in ("", "0") else ""
        attrs += ' notFilterable="true"' if f.computed else ""
        if f.i18n:
            inner = "".join(f'<language id="{lang}"{_href(base, "languages", record_id, str(lang))}>'
                            f"{_cdata(value.get(lang, ''))}</language>" for lang in languages)
            out.append(f"<{f.name}{attrs}>{inner}</{f.name}>")
        else:
            out.append(f"<{f.name}{attrs}>{_cdata(value)}</{f.name}>")
    if associations:
        out.append("<associations>")
        for association, subfields in associations:
            rows = view["associations"].get(association.name, [])
            opening = f'<{association.name} nodeType="{association.node}" api="{association.name}"'
            if not rows:
                out.append(opening + "/>")
                continue
            out.append(opening + ">")
            for row in rows:
                link = _href(base, association.link, record_id, row["id"]) if association.link and row["id"] else ""
                inner = "".join(f"<{name}>{_cdata(row.get(name, ''))}</{name}>" for name in subfields)
                out.append(f"<{association.node}{link}>{inner}</{association.node}>")
            out.append(f"</{association.name}>")
        out.append("</associations>")
    out.append(f"</{resource.singular}>")
    return "\n".join(out)


def json_entity(resource: Resource, view: Mapping[str, Any], display: Any, languages: tuple[int, ...]) -> dict[str, Any]:
    fields, associations = _select(resource, display)
    out: dict[str, Any] = {}
    for f in fields:
        value = view[f.name]
        if f.name == "id":
            out["id"] = int(value)
        elif f.i18n:
            texts = [{"id": str(lang), "value": value.get(lang, "")} for lang in languages]
            out[f.name] = texts if len(texts) > 1 else texts[0]["value"]
        else:
            out[f.name] = value
    rendered = {a.name: [{name: row.get(name, "") for name in subfields} for row in view["associations"].get(a.name, [])]
                for a, subfields in associations}
    rendered = {name: rows for name, rows in rendered.items() if rows}
    if rendered:
        out["associations"] = rendered
    return out


def xml_reply(inner: str, status: int = 200) -> Reply:
    return Reply(status, (XML_HEAD + inner + "\n" + XML_TAIL).encode(), XML_TYPE)


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode(), JSON_TYPE)


def error_reply(error: SimError, json_output: bool) -> Reply:
    entries = [(error.code, error.message), *error.more]
    if json_output:
        return json_reply({"errors": [{"code": code, "message": message} for code, message in entries]}, error.status)
    inner = "\n".join(f"<error>\n<code>{_cdata(str(code))}</code>\n<message>{_cdata(message)}</message>\n</error>"
                      for code, message in entries)
    return xml_reply(f"<errors>\n{inner}\n</errors>", error.status)


def failure_reply(failure: Failure, json_output: bool) -> Reply:
    if failure.body == "html":
        page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon.</body></html>"
        reply = Reply(failure.status, page, "text/html; charset=utf-8")
    elif failure.body == "empty":
        reply = Reply(failure.status)
    else:
        reply = error_reply(SimError(failure.status, 0, f"Simulated failure (HTTP {failure.status})"), json_output)
    if failure.retry_after is not None:
        reply.headers["Retry-After"] = str(failure.retry_after)
    return reply


# Request parsing


def parse_display(resource: Resource, text: str | None) -> Any:
    """``None`` (ids only), ``"full"``, or ``{field: None, association: [sub-fields]}``."""
    if text is None or text == "minimum":
        return None
    if text == "full":
        return "full"
    match = re.fullmatch(r"\[(.*)\]", text)
    if not match:
        raise SimError(400, 36, "The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,field_3,...]'.")
    display: dict[str, list[str] | None] = {}
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", match.group(1)):
        name, _, sub = part.strip().partition("[")
        association = next((a for a in resource.associations if a.name == name), None)
        subfields = [s.strip() for s in sub.rstrip("]").split(",")] if sub else None
        if (subfields is None and resource.field(name) is None) or (subfields is not None and (
                association is None or any(s != "id" and s not in association.fields for s in subfields))):
            fields = ", ".join(f.name for f in resource.fields)
            raise SimError(400, 35, f'Unable to display this field "{name}". However, these are available: {fields}')
        display[name] = subfields
    return display


def parse_sort(text: str | None) -> list[tuple[str, bool]]:
    if not text:
        return []
    sort = []
    for item in (text[1:-1] if text.startswith("[") and text.endswith("]") else text).split(","):
        name, _, direction = item.strip().rpartition("_")
        if not name or direction.upper() not in ("ASC", "DESC"):
            raise SimError(400, 37, 'The "sort" value has to be formed as this example: "field_ASC" or '
                                    "'[field_1_DESC,field_2_ASC,field_3_ASC,...]'")
        sort.append((name, direction.upper() == "DESC"))
    return sort


def parse_limit(text: str | None) -> tuple[int, int | None]:
    if not text:
        return 0, None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise SimError(400, 39, "The 'limit' value has to be formed as this example: '5,25' or '10'")
    return (0, int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def parse_languages(shop: ShopSimulator, text: str | None) -> tuple[int, ...]:
    if not text:
        return shop.languages
    wanted = {int(n) for n in re.findall(r"\d+", text)}
    return tuple(lang for lang in shop.languages if lang in wanted)


def parse_entity(resource: Resource, body: bytes) -> tuple[int | None, dict[str, Any]]:
    """The ``<id>`` and the field values of a PUT/POST body."""
    if body.startswith(b"xml="):
        body = unquote(body[4:].decode()).encode()
    try:
        node = ET.fromstring(body).find(resource.singular)
    except ET.ParseError as exc:
        raise SimError(400, 127, f"XML error : {exc}") from None
    if node is None:
        raise SimError(400, 96, f"XML error : <{resource.singular}> element is missing")
    values: dict[str, Any] = {}
    for child in node:
        if child.tag != "associations":
            languages = child.findall("language")
            values[child.tag] = {int(lang.get("id", "0")): lang.text or "" for lang in languages} \
                if languages else (child.text or "")
    record_id = str(values.pop("id", "")).strip()
    return (int(record_id) if record_id.isdigit() else None), values


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
        raise SimError(401, 20, "Authentification key is not active",
                       more=((21, "No permission for this authentication key"),))


# The webservice


def handle_api(shop: ShopSimulator, request: Request) -> Reply:
    started = time.monotonic()
    if shop.latency_ms:
        time.sleep(shop.latency_ms / 1000)
    failure = shop.next_failure()
    if failure is not None:
        shop.stats.add("injected_failures")
        return failure_reply(failure, request.json_output)
    authenticated = False
    try:
        authenticate(shop, request)
        authenticated = True
        reply = route_api(shop, request)
    except Unauthenticated:
        shop.stats.add("auth_failed")
        return Reply(401, b"401 Unauthorized", "text/plain", {"WWW-Authenticate": REALM})
    except SimError as error:
        shop.stats.add("auth_failed" if error.status == 401 else "errors")
        reply = error_reply(error, request.json_output)
    reply.headers |= {"Access-Time": str(int(time.time())), "X-Powered-By": "PrestaShop Webservice",
                      "Execution-Time": f"{time.monotonic() - started:.3f}"}
    if authenticated:
        reply.headers["PSWS-Version"] = "8.1.7"
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
        raise SimError(400, 27, f'Resource of type "{segments[0]}" does not exists. '
                                f'The full list is: "{", ".join(RESOURCES)}"')
    if request.method not in resource.methods:
        raise SimError(405, 25, f"Method {request.method} is not allowed for the resource {resource.name} "
                                "with this authentication key")
    if len(segments) == 2 and not segments[1].isdigit():
        return Reply(404)
    record_id = int(segments[1]) if len(segments) == 2 else None
    if request.method == "GET":
        with shop.lock:
            return read(shop, request, resource, record_id)
    return write(shop, request, resource)


def read(shop: ShopSimulator, request: Request, resource: Resource, record_id: int | None) -> Reply:
    query, languages = request.query, parse_languages(shop, request.query.get("language"))
    if "schema" in query:
        shop.stats.add("schema_get")
        return _render_one(resource, _blank(shop, resource), "full", request, languages)
    display = parse_display(resource, query.get("display"))
    if record_id is not None:
        shop.stats.add(f"{SHORT_KINDS[resource.name]}_get")
        if record_id not in shop.records[resource.name]:
            return Reply(404)  # PrestaShop sends no body at all here
        view = shop.view(resource, record_id)
        if display is None:
            return _render_one(resource, view, "full", request, languages, drop_falsy=True)
        return _render_list(resource, [view], display, request, languages)
    filters = {k[7:-1]: v for k, v in query.items() if k.startswith("filter[") and k.endswith("]")}
    ids = shop.query(resource, filters, parse_sort(query.get("sort")), parse_limit(query.get("limit")),
                     dates=query.get("date", "") not in ("", "0"))
    shop.stats.add(LIST_KINDS[resource.name])
    return _render_list(resource, [shop.view(resource, i) for i in ids], display, request, languages)


def _blank(shop: ShopSimulator, resource: Resource) -> dict[str, Any]:
    view = {f.name: dict.fromkeys(shop.languages, "") if f.i18n else "" for f in resource.fields}
    view["associations"] = {a.name: [dict.fromkeys(a.fields, "")] for a in resource.associations}
    return view


def _render_one(resource: Resource, view: dict[str, Any], display: Any, request: Request,
                languages: tuple[int, ...], *, drop_falsy: bool = False) -> Reply:
    if request.json_output:
        entity = json_entity(resource, view, display, languages)
        if drop_falsy:  # PrestaShop 8's array_filter on single entities
            entity = {k: v for k, v in entity.items() if v not in ("", "0", [], {})}
        return json_reply({resource.singular: entity})
    return xml_reply(xml_entity(resource, view, display, request.base_url, languages))


def _render_list(resource: Resource, views: list[dict[str, Any]], display: Any, request: Request,
                 languages: tuple[int, ...]) -> Reply:
    if request.json_output:
        if not views:
            return json_reply([])  # the bare empty list of real shops
        items = [{"id": int(v["id"])} if display is None else json_entity(resource, v, display, languages)
                 for v in views]
        return json_reply({resource.name: items})
    base = request.base_url
    items = [f'<{resource.singular} id="{v["id"]}" xlink:href="{base}/api/{resource.name}/{v["id"]}"/>'
             if display is None else xml_entity(resource, v, display, base, languages) for v in views]
    return xml_reply(f"<{resource.name}>\n" + "".join(item + "\n" for item in items) + f"</{resource.name}>")


def write(shop: ShopSimulator, request: Request, resource: Resource) -> Reply:
    record_id, values = parse_entity(resource, request.body)
    if request.method == "POST" and record_id is not None:
        raise SimError(400, 91, "id is forbidden when adding a new resource")
    if request.method != "POST" and record_id is None:
        raise SimError(400, 90, "id is required when modifying a resource")
    shop.stats.add(f"{SHORT_KINDS[resource.name]}_{request.method.lower()}")
    with shop.lock:
        record_id = shop.write(resource, request.method, values, record_id)
        view = shop.view(resource, record_id)
    reply = _render_one(resource, view, "full", request, shop.languages)
    reply.status = 201 if request.method == "POST" else 200
    return reply


def route_images(shop: ShopSimulator, request: Request, segments: list[str]) -> Reply:
    if request.method != "GET" or not segments or segments[0] != "products" or len(segments) > 3 \
            or not all(s.isdigit() for s in segments[1:]):
        raise SimError(400, 48, f'Image of type "{"/".join(segments)}" does not exist')
    if len(segments) == 1:
        with shop.lock:
            with_images = [pid for pid, images in shop.images.items() if images]
        items = "".join(f'<image id="{pid}" xlink:href="{request.base_url}/api/images/products/{pid}"/>\n'
                        for pid in with_images)
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
        return json_reply({"": [{"id": str(product_id)}, *({"id": str(i.id)} for i in images)], "errors": [
            {"code": 5, "message": "[PHP Notice #8] Undefined index: objectsNodeName"}]}, 500)
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
    if mode == "html":
        data = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"
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
        request = Request(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                          self.headers, body, f"http://{self.headers.get('Host', 'localhost')}")
        if url.path.startswith("/_sim/"):
            reply = handle_control(shop, request)
        else:
            shop.stats.note(f"{self.command} {unquote(self.path)}")
            reply = handle_api(shop, request)
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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s " + format, self.address_string(), *args)


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server serving one :class:`ShopSimulator`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], shop: ShopSimulator) -> None:
        self.shop = shop
        super().__init__(address, SimulatorHandler)
