"""The errors half of the OpenAPI document: every operation lists the problems it can answer.

Litestar documents a handler's success reply and, for handlers with input, a 400 in its own
``{status_code, detail, extra}`` shape, which labbook never sends. ``document_problems`` rewrites the
generated document once, after every route is registered: each operation gets the error statuses it
can answer as ``application/problem+json`` (RFC 9457), all pointing at one ``Problem`` component.
The rules follow how labbook decides errors, so they live next to nothing route-specific:

* 400 and 422 wherever there is input (parameters or a body), 422 on the whole JSON API (an unknown
  query parameter); 413 and 415 where there is a body;
* 401 everywhere: a route open to anyone still refuses a token that is unknown, expired or revoked;
  403 where the route's ``opt["access"]`` is not public;
* 404 where the input names something (in the path, a filter, the body); 409 on every write;
  429 on private feeds and on asking for a password reset link.

It also says of the input what Litestar leaves out: a query parameter is absent or has a value (never
``null``, which a query string cannot carry); request bodies refuse unknown fields
(``forbid_unknown_fields``); a body the handler defaults is optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import msgspec
import msgspec.inspect as mi
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Parameter,
    Reference,
    Schema,
)
from litestar.routes import HTTPRoute

from labbook.core.access import PUBLIC
from labbook.errors import LabbookError

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.handlers import HTTPRouteHandler
    from litestar.openapi.spec import OpenAPI, Operation

PROBLEM_MEDIA_TYPE = "application/problem+json"
API = "/api/"
FEEDS = "/feeds/"
# Probes answer without a problem: /health never touches the database, /ready says what is wrong itself.
WITHOUT_DATABASE = frozenset({"/health", "/ready"})
PRIVATE_FEEDS = "/feeds/private/"
# Operations that refuse a caller asking again too soon (``RateLimited``), besides private feeds.
THROTTLED = frozenset({("/api/v1/password-resets", "post")})
WRITES = frozenset({"post", "put", "patch", "delete"})
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_STRING = Schema(type=OpenAPIType.STRING)
_INTEGER = Schema(type=OpenAPIType.INTEGER)
_OBJECTS = Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT))

PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description=(
        "An RFC 9457 problem. Branch on `type` (`/problems/<slug>`, listed in the README); `detail` is "
        "for people. Members beyond the standard ones appear only on the problems that carry them."
    ),
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(
            type=OpenAPIType.STRING, format=OpenAPIFormat.URI_REFERENCE, examples=["/problems/slot-full"]
        ),
        "title": _STRING,
        "status": Schema(type=OpenAPIType.INTEGER, minimum=400, maximum=599),
        "detail": _STRING,
        "instance": _STRING,
        "request_id": Schema(
            type=OpenAPIType.STRING, description="the X-Request-ID of the request; quote it when reporting"
        ),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="what is wrong with which input field (`validation` and some conflicts)",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={"field": _STRING, "message": _STRING},
            ),
        ),
        "conflicts": Schema(
            type=OpenAPIType.ARRAY,
            description="the slots or equipment units in the way",
            items=Schema(type=OpenAPIType.OBJECT),
        ),
        "current_status": Schema(
            type=OpenAPIType.STRING, description="`illegal-transition`: the state the object is in"
        ),
        "seats_left": Schema(type=OpenAPIType.INTEGER, description="`slot-full`: seats still free"),
        "requested": Schema(type=OpenAPIType.INTEGER, description="how many seats or units were asked for"),
        "capacity": _INTEGER,
        "lab_capacity": _INTEGER,
        "free": Schema(type=OpenAPIType.INTEGER, description="`unit-taken`: units free at that time"),
        "retry_after": Schema(type=OpenAPIType.INTEGER, description="seconds to wait before trying again"),
        "occurrences": Schema(
            type=OpenAPIType.ARRAY,
            description="`series-conflict`: the occurrences that collide",
            items=Schema(type=OpenAPIType.OBJECT),
        ),
        "failures": Schema(
            type=OpenAPIType.ARRAY,
            description="`series-not-bookable`: the occurrences that cannot be booked",
            items=Schema(type=OpenAPIType.OBJECT),
        ),
        "opening_hours": Schema(
            type=OpenAPIType.ARRAY,
            description="`outside-opening-hours`: the lab's windows on that day",
            items=Schema(type=OpenAPIType.OBJECT),
        ),
    },
)

NOT_MODIFIED = OpenAPIResponse(
    description=(
        "The calendar has not changed since the `ETag` (`If-None-Match`) or the date "
        "(`If-Modified-Since`) the caller sent; no body."
    ),
    headers={"ETag": OpenAPIHeader(schema=_STRING, description="the calendar's current tag")},
)
_MEANING = {
    400: "The request is malformed (unparseable JSON, a bad header).",
    401: "No token where one is needed, or a token that is unknown, expired or revoked.",
    403: "The token is valid but its person may not do this.",
    404: "Nothing with that name or id exists, or the caller may not know that it does.",
    409: "The request clashes with the current state.",
    413: "The request body is larger than the server accepts.",
    415: "The request body is not JSON.",
    422: "The input is well-formed but wrong; `errors` names the fields.",
    429: "Too many requests; wait `Retry-After` seconds.",
    503: "The database is unavailable for the moment; retry after `Retry-After` seconds.",
}
_HEADERS: dict[int, dict[str, OpenAPIHeader | Reference]] = {
    401: {"WWW-Authenticate": OpenAPIHeader(schema=_STRING, description="`Bearer`")},
    429: {"Retry-After": OpenAPIHeader(schema=_INTEGER, description="seconds to wait")},
    503: {"Retry-After": OpenAPIHeader(schema=_INTEGER, description="seconds to wait")},
}


def _problem_types() -> dict[int, list[str]]:
    """Every problem ``type`` by status, from the error classes (domain ones included)."""
    found: dict[int, set[str]] = {}
    todo: list[type[LabbookError]] = [LabbookError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        found.setdefault(cls.status, set()).add(f"/problems/{cls.slug}")
    return {status: sorted(types) for status, types in found.items()}


def _response(status: int, types: dict[int, list[str]]) -> OpenAPIResponse:
    known = ", ".join(f"`{t}`" for t in types.get(status, ()))
    return OpenAPIResponse(
        description=_MEANING[status] + (f" `type`: {known}." if known else ""),
        headers=_HEADERS.get(status),
        content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))},
    )


def _statuses(path: str, method: str, operation: Operation, access: Any) -> list[int]:
    parameters = operation.parameters or []
    has_body = operation.request_body is not None
    statuses = {401}
    if access != PUBLIC:
        statuses.add(403)
    if parameters or has_body:
        # malformed or wrong input; the path, a filter (``lab=``) or the body names something absent
        statuses |= {400, 404, 422}
    if path.startswith(API):
        # the JSON API refuses query parameters it does not know
        statuses.add(422)
    if has_body:
        statuses |= {413, 415}
    if method in WRITES:
        statuses.add(409)
    if path.startswith(PRIVATE_FEEDS) or (path, method) in THROTTLED:
        statuses.add(429)
    if path not in WITHOUT_DATABASE:
        # the database is unreachable or frozen: a quick refusal rather than a wait
        statuses.add(503)
    return sorted(statuses)


def _without_null(schema: Schema) -> None:
    if isinstance(schema.type, list) and OpenAPIType.NULL in schema.type:
        rest = [t for t in schema.type if t != OpenAPIType.NULL]
        schema.type = rest[0] if len(rest) == 1 else rest
    if schema.enum is not None:
        schema.enum = [value for value in schema.enum if value is not None]
    if schema.one_of:
        schema.one_of = [
            s for s in schema.one_of if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)
        ]
        if len(schema.one_of) == 1 and isinstance(schema.one_of[0], Schema):
            only = schema.one_of[0]
            schema.one_of = None
            schema.type, schema.enum = only.type, only.enum
            schema.format = only.format or schema.format


def _closed(schema: Schema | Reference, document: OpenAPI, seen: set[str]) -> None:
    """Mark every object schema of a request body as refusing unknown fields (they all do)."""
    if isinstance(schema, Reference):
        name = schema.ref.rsplit("/", 1)[-1]
        target = (document.components.schemas or {}).get(name) if document.components else None
        if name in seen or not isinstance(target, Schema):
            return
        seen.add(name)
        schema = target
    if schema.properties is not None and schema.additional_properties is None:
        schema.additional_properties = False
    for child in [
        *(schema.properties or {}).values(),
        *(schema.one_of or []),
        *(schema.any_of or []),
        *(schema.all_of or []),
        *([schema.items] if isinstance(schema.items, Schema | Reference) else []),
    ]:
        _closed(child, document, seen)


def _describe_input(operation: Operation, handler: HTTPRouteHandler | None, document: OpenAPI) -> None:
    for parameter in operation.parameters or []:
        if (
            isinstance(parameter, Parameter)
            and parameter.param_in == "query"
            and isinstance(parameter.schema, Schema)
        ):
            _without_null(parameter.schema)
    body = operation.request_body
    if body is None or isinstance(body, Reference):
        return
    for media in (body.content or {}).values():
        if isinstance(media.schema, Schema | Reference):
            _closed(media.schema, document, set())
    data = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    if data is not None and data.has_default:
        body.required = False


def _structs(annotations: list[Any]) -> dict[str, mi.StructType]:
    """Every Struct reachable from ``annotations``, by name."""
    found: dict[str, mi.StructType] = {}
    stack: list[mi.Type] = list(mi.multi_type_info(annotations))
    while stack:
        t = stack.pop()
        if isinstance(t, mi.StructType):
            if t.cls.__name__ not in found:
                found[t.cls.__name__] = t
                stack.extend(f.type for f in t.fields)
        elif isinstance(t, mi.Metadata):
            stack.append(t.type)
        elif isinstance(t, mi.UnionType):
            stack.extend(t.types)
        elif isinstance(t, mi.CollectionType):
            stack.append(t.item_type)
        elif isinstance(t, mi.DictType):
            stack.append(t.value_type)
    return found


def _name_keys(annotations: list[Any], components: dict[str, Any]) -> None:
    """Add ``propertyNames`` to the object fields keyed by a language (msgspec omits it for
    enumerated keys), so ``{"de": ...}`` is documented as refused, as it is."""
    structs = _structs(annotations)
    for component in components.values():
        struct = structs.get(component.get("title", ""))
        if struct is None:
            continue
        for field in struct.fields:
            keys = _dict_keys(field.type)
            if keys is None:
                continue
            schema = component["properties"][field.encode_name]
            for option in [schema, *schema.get("anyOf", [])]:
                if option.get("type") == "object":
                    option["propertyNames"] = {"enum": list(keys)}


def _dict_keys(t: mi.Type) -> tuple[Any, ...] | None:
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.UnionType):
        found = [keys for member in t.types if (keys := _dict_keys(member)) is not None]
        return found[0] if found else None
    if isinstance(t, mi.DictType):
        key = t.key_type
        while isinstance(key, mi.Metadata):
            key = key.type
        if isinstance(key, mi.LiteralType):
            return key.values
    return None


def _true_request_bodies(document: OpenAPI, handlers: dict[tuple[str, str], HTTPRouteHandler]) -> None:
    """Describe every JSON request body as msgspec decodes it.

    Litestar's generator drops what msgspec enforces on the way in: the languages a name may be
    given in, a name's minimum size, bounds on optional fields of a change. msgspec's own JSON
    Schema (2020-12, as OpenAPI 3.1 uses) is the decoder's contract, so the body schemas and the
    components they refer to come from it.
    """
    targets: list[tuple[OpenAPIMediaType, Any]] = []
    for path, item in (document.paths or {}).items():
        if not path.startswith(API):
            continue
        for method in METHODS:
            operation: Operation | None = getattr(item, method, None)
            handler = handlers.get((path, method))
            data = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
            body = operation.request_body if operation is not None else None
            if data is None or body is None or isinstance(body, Reference):
                continue
            targets.extend((media, data.annotation) for media in (body.content or {}).values())
    if not targets:
        return
    annotations = list(dict.fromkeys(annotation for _, annotation in targets))
    schemas, components = msgspec.json.schema_components(
        annotations, ref_template="#/components/schemas/{name}"
    )
    _name_keys(annotations, components)
    by_annotation = dict(zip(annotations, schemas, strict=True))
    for media, annotation in targets:
        media.schema = cast(Schema, by_annotation[annotation])
    document.components = document.components if isinstance(document.components, Components) else Components()
    document.components.schemas = {**(document.components.schemas or {}), **components}


def _handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    return {
        (route.path_format or "/", method.lower()): handler
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
    }


def document_problems(app: Litestar) -> None:
    """Rewrite ``app``'s OpenAPI document (in place, once) so that it tells the truth about errors."""
    document: OpenAPI = app.openapi_schema
    config = app.openapi_config
    router = config.openapi_router if config else None
    explorer = (router.path if router else config.path if config else None) or "/schema"
    handlers = _handlers(app)
    types = _problem_types()
    # The explorer's own pages and its HTML 404 are not part of the API.
    document.paths = {
        path: item
        for path, item in (document.paths or {}).items()
        if path != explorer and not path.startswith(explorer.rstrip("/") + "/")
    }
    for path, item in document.paths.items():
        for method in METHODS:
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            handler = handlers.get((path, method))
            access = handler.opt.get("access") if handler is not None else None
            # Litestar's own 4xx shape goes; its successes and a route's declared 5xx stay.
            responses = {
                code: reply
                for code, reply in (operation.responses or {}).items()
                if not 400 <= int(code) < 500
            }
            for status in _statuses(path, method, operation, access):
                responses[str(status)] = _response(status, types)
            if path.startswith(FEEDS) and method in {"get", "head"}:
                responses["304"] = NOT_MODIFIED
            operation.responses = responses
            _describe_input(operation, handler, document)
            if access == PUBLIC:
                # Anyone may call it; a token, when sent, must still be valid.
                operation.security = [{}, {"BearerToken": []}]
    _true_request_bodies(document, handlers)
    components = document.components if isinstance(document.components, Components) else Components()
    components.schemas = {**(components.schemas or {}), "Problem": PROBLEM}
    document.components = components
