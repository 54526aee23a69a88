"""The simulated webservice's formats: requests and replies, XML and JSON
rendering of entities and lists, and parsing of query parameters and bodies.

Rendering follows PrestaShop's quirks: CDATA values and ``<x></x>`` for
empty ones, ``notFilterable`` on computed fields, language arrays (a plain
string when one language), a bare ``[]`` for an empty JSON list, and falsy
fields dropped from a single JSON entity (PrestaShop 8's ``array_filter``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote_plus
from xml.sax.saxutils import quoteattr

from shopsim.schema import Resource, SimError

XML_TYPE = "text/xml;charset=utf-8"
JSON_TYPE = "application/json"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
XML_TAIL = "</prestashop>\n"


@dataclass
class Request:
    """A webservice request, parsed enough to route and render it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    base_url: str

    @property
    def json_output(self) -> bool:
        """Only the exact string ``JSON`` selects JSON, looked up in PrestaShop's order."""
        for value in (
            self.headers.get("Io-Format"),
            self.headers.get("Output-Format"),
            self.query.get("output_format"),
            self.query.get("io_format"),
        ):
            if value is not None:
                return value == "JSON"
        return False


@dataclass
class Reply:
    """What the handler sends: a body, or a stream of chunks."""

    status: int
    body: bytes = b""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    length: int | None = None  # for streams; None sends the stream chunked


# Rendering


def _cdata(value: str) -> str:
    return f"<![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]>" if value else ""


def _href(base: str, link: str, record_id: str, value: str) -> str:
    return f" xlink:href={quoteattr(f'{base}/api/{link.format(id=record_id)}/{value}')}"


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
            inner = "".join(
                f'<language id="{lang}"{_href(base, "languages", record_id, str(lang))}>'
                f"{_cdata(value.get(lang, ''))}</language>"
                for lang in languages
            )
            out.append(f"<{f.name}{attrs}>{inner}</{f.name}>")
        else:
            out.append(f"<{f.name}{attrs}>{_cdata(value)}</{f.name}>")
    if associations:
        out += ["<associations>", *_xml_associations(view, associations, base), "</associations>"]
    out.append(f"</{resource.singular}>")
    return "\n".join(out)


def _xml_associations(view: Mapping[str, Any], associations: list[tuple[Any, tuple[str, ...]]], base: str) -> list[str]:
    """``<images nodeType="image" api="images"><image xlink:href=..><id>..</id></image></images>``;
    an empty association is a self-closing element."""
    out = []
    for association, subfields in associations:
        rows = view["associations"].get(association.name, [])
        opening = f'<{association.name} nodeType="{association.node}" api="{association.name}"'
        if not rows:
            out.append(opening + "/>")
            continue
        out.append(opening + ">")
        for row in rows:
            link = _href(base, association.link, view["id"], row["id"]) if association.link and row["id"] else ""
            inner = "".join(f"<{name}>{_cdata(row.get(name, ''))}</{name}>" for name in subfields)
            out.append(f"<{association.node}{link}>{inner}</{association.node}>")
        out.append(f"</{association.name}>")
    return out


def json_entity(
    resource: Resource, view: Mapping[str, Any], display: Any, languages: tuple[int, ...]
) -> dict[str, Any]:
    fields, associations = _select(resource, display)
    out: dict[str, Any] = {}
    for f in fields:
        value = view[f.name]
        if f.name == "id":
            out["id"] = int(value)
        elif f.i18n:
            texts = [{"id": str(lang), "value": value.get(lang, "")} for lang in languages]
            out[f.name] = texts[0]["value"] if len(texts) == 1 else texts  # one language: a plain string
        else:
            out[f.name] = value
    rendered = {
        a.name: [{name: row.get(name, "") for name in subfields} for row in view["associations"].get(a.name, [])]
        for a, subfields in associations
    }
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
    inner = "\n".join(
        f"<error>\n<code>{_cdata(str(code))}</code>\n<message>{_cdata(message)}</message>\n</error>"
        for code, message in entries
    )
    return xml_reply(f"<errors>\n{inner}\n</errors>", error.status)


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
        if (subfields is None and resource.field(name) is None) or (
            subfields is not None
            and (association is None or any(s != "id" and s not in association.fields for s in subfields))
        ):
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
            raise SimError(
                400,
                37,
                'The "sort" value has to be formed as this example: "field_ASC" or '
                "'[field_1_DESC,field_2_ASC,field_3_ASC,...]'",
            )
        sort.append((name, direction.upper() == "DESC"))
    return sort


def parse_limit(text: str | None) -> tuple[int, int | None]:
    if not text:
        return 0, None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise SimError(400, 39, "The 'limit' value has to be formed as this example: '5,25' or '10'")
    return (0, int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def parse_languages(languages: tuple[int, ...], text: str | None) -> tuple[int, ...]:
    """The shop's languages a ``language=1`` / ``language=[1|2]`` parameter selects."""
    if not text:
        return languages
    wanted = {int(n) for n in re.findall(r"\d+", text)}
    return tuple(lang for lang in languages if lang in wanted)


def parse_entity(resource: Resource, body: bytes) -> tuple[int | None, dict[str, Any]]:
    """The ``<id>`` and the field values of a PUT/POST body."""
    if body.startswith(b"xml="):  # a form-encoded document, which PrestaShop accepts too
        body = unquote_plus(body[4:].decode()).encode()
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
            texts = {int(lang.get("id", "")): lang.text or "" for lang in languages if lang.get("id", "").isdigit()}
            values[child.tag] = texts if languages else (child.text or "")
    record_id = str(values.pop("id", "")).strip()
    return (int(record_id) if record_id.isdigit() else None), values


def blank_view(resource: Resource, languages: tuple[int, ...]) -> dict[str, Any]:
    """The ``?schema=blank`` entity: every field empty, one empty item per association."""
    view: dict[str, Any] = {f.name: dict.fromkeys(languages, "") if f.i18n else "" for f in resource.fields}
    view["associations"] = {a.name: [dict.fromkeys(a.fields, "")] for a in resource.associations}
    return view


def render_entity(
    resource: Resource,
    view: dict[str, Any],
    display: Any,
    request: Request,
    languages: tuple[int, ...],
    *,
    drop_falsy: bool = False,
) -> Reply:
    if request.json_output:
        entity = json_entity(resource, view, display, languages)
        if drop_falsy:  # PrestaShop 8's array_filter on single entities
            entity = {k: v for k, v in entity.items() if v not in ("", "0", [], {})}
        return json_reply({resource.singular: entity})
    return xml_reply(xml_entity(resource, view, display, request.base_url, languages))


def render_list(
    resource: Resource, views: list[dict[str, Any]], display: Any, request: Request, languages: tuple[int, ...]
) -> Reply:
    if request.json_output:
        if not views:
            return json_reply([])  # the bare empty list of real shops
        entities = [
            {"id": int(v["id"])} if display is None else json_entity(resource, v, display, languages) for v in views
        ]
        return json_reply({resource.name: entities})
    base = request.base_url
    elements = [
        f'<{resource.singular} id="{v["id"]}" xlink:href="{base}/api/{resource.name}/{v["id"]}"/>'
        if display is None
        else xml_entity(resource, v, display, base, languages)
        for v in views
    ]
    return xml_reply(f"<{resource.name}>\n" + "".join(e + "\n" for e in elements) + f"</{resource.name}>")
