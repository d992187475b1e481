"""Generic checks of a JSON API request before Litestar parses it, and the wording of what it refuses.

``check_request`` is an app-wide guard (after ``authorize``) for routes under ``/api/``. From the
handler's own signature it knows which query parameters exist and which body type it takes, so no
route keeps a list of its own:

- a query parameter the handler does not declare is a 422 naming it (as an unknown body field is);
- a body must be JSON (``application/json`` or a ``+json`` type), else 415;
- a body that is not UTF-8 or is nested absurdly deep is a 400, like any other malformed JSON;
- every missing required field, unknown field and value outside an enumeration (with the allowed
  values) is reported at once; msgspec itself stops at the first error of a body.

``validation_problem`` turns Litestar's ``ValidationException`` (the remaining type errors) into our
problem+json with the public field names (``from``, not ``from_``; ``contact_name``, not ``data``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import SerializationException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.plugins.problem_details import ProblemDetailsException

from labbook.errors import BadRequest, UnsupportedMediaType, ValidationFailed

API_PREFIX = "/api/"
# Our deepest body is a series with its recurrence (three levels); anything far deeper is not ours.
MAX_DEPTH = 32
# msgspec's wording for ShortText's pattern (a repr of the regex, so the backslash may be doubled).
_BLANK = re.compile(r"matching regex '\\+S'$")
_FIELD_IN_MESSAGE = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a handler accepts, read once from its signature."""

    query_names: frozenset[str]  # public names, the handler's dependencies' included
    query_aliases: dict[str, str]  # Python name -> public name
    query_types: dict[str, mi.Type]  # public name -> type, for the handler's own parameters
    any_query: bool  # the handler takes the whole query mapping
    body: mi.Type | None
    # The body type's strict JSON decoder, when every value in it is typed (so its depth is bounded).
    strict: msgspec.json.Decoder[Any] | None


# Keyed by the handler's function: guards get a fresh copy of the handler on every request, so the
# handler itself would miss every time (and keep every copy alive).
_shapes: dict[tuple[object, frozenset[str]], _Shape] = {}


def _shape(handler: BaseRouteHandler, path_params: set[str]) -> _Shape:
    key = (handler.fn, frozenset(path_params))
    found = _shapes.get(key)
    if found is None:
        model = handler.create_kwargs_model(path_parameters=dict.fromkeys(path_params))  # type: ignore[arg-type]
        query = {p.field_alias: p for p in model.expected_query_params}
        types: dict[str, mi.Type] = {}
        for alias, param in query.items():
            field = handler.parsed_fn_signature.parameters.get(param.field_name)
            if field is not None:
                types[alias] = _type_info(field.annotation)
        data = handler.parsed_fn_signature.parameters.get("data")
        body = _type_info(data.annotation) if data is not None else None
        found = _Shape(
            query_names=frozenset(query),
            query_aliases={p.field_name: alias for alias, p in query.items()},
            query_types=types,
            any_query="query" in model.expected_reserved_kwargs,
            body=body,
            strict=_strict_decoder(data.annotation) if data is not None and _bounded(body) else None,
        )
        _shapes[key] = found
    return found


def _strict_decoder(annotation: Any) -> msgspec.json.Decoder[Any] | None:
    try:
        return msgspec.json.Decoder(annotation)
    except (TypeError, ValueError):
        return None


_LEAVES = (
    mi.NoneType, mi.BoolType, mi.IntType, mi.FloatType, mi.StrType, mi.DateTimeType, mi.DateType,
    mi.TimeType, mi.UUIDType, mi.DecimalType, mi.LiteralType, mi.EnumType,
)  # fmt: skip


def _bounded(t: mi.Type | None, seen: frozenset[type] = frozenset()) -> bool:
    """Whether every value of ``t`` is typed, without ``Any`` or recursion, so its nesting is bounded."""
    if t is None:
        return False
    t = _unwrap(t)
    if isinstance(t, _LEAVES):
        return True
    if isinstance(t, mi.UnionType):
        return all(_bounded(m, seen) for m in t.types)
    if isinstance(t, mi.StructType):
        return t.cls not in seen and all(_bounded(f.type, seen | {t.cls}) for f in t.fields)
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return _bounded(t.item_type, seen)
    if isinstance(t, mi.DictType):
        return _bounded(t.key_type, seen) and _bounded(t.value_type, seen)
    return False


def _decodes(decoder: msgspec.json.Decoder[Any] | None, body: bytes) -> bool:
    """Whether ``body`` is already exactly what the handler takes: then there is nothing to report.

    msgspec decodes strictly (no "3" for 3), refuses unknown fields of the Structs that forbid them,
    and checks enumerations, so a body it accepts gives ``_walk`` nothing to say; it does so in one
    pass in C, where the walk took a tenth of a booking request.
    """
    if decoder is None:
        return False
    try:
        decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # the full check below words every one of these for the client
        return False
    return True


def _type_info(annotation: Any) -> mi.Type:
    try:
        return mi.type_info(annotation)
    except (TypeError, ValueError):
        return mi.AnyType()


def _unwrap(t: mi.Type) -> mi.Type:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _allowed(t: mi.Type) -> tuple[str, ...] | None:
    """The allowed values of an enumeration (possibly optional), as text; ``None`` for other types."""
    t = _unwrap(t)
    if isinstance(t, mi.UnionType):
        choices = [_allowed(member) for member in t.types if not isinstance(_unwrap(member), mi.NoneType)]
        return choices[0] if len(choices) == 1 else None
    if isinstance(t, mi.LiteralType):
        return tuple(str(v) for v in t.values)
    if isinstance(t, mi.EnumType):
        return tuple(str(member.value) for member in t.cls)
    return None


def _is_optional(t: mi.Type) -> bool:
    t = _unwrap(t)
    return isinstance(t, mi.UnionType) and any(isinstance(_unwrap(m), mi.NoneType) for m in t.types)


def _is_list(t: mi.Type) -> bool:
    t = _unwrap(t)
    if isinstance(t, mi.UnionType):
        return any(_is_list(m) for m in t.types)
    return isinstance(t, mi.CollectionType)


def one_of(values: tuple[str, ...]) -> str:
    return "expected one of: " + ", ".join(values)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


# Litestar converts a body leniently (0 for false, "3" for 3, a number for a date); the API takes
# each JSON type only for itself, as its OpenAPI document says.
_JSON_SCALARS: tuple[tuple[type[mi.Type] | tuple[type[mi.Type], ...], Any, str], ...] = (
    (mi.BoolType, lambda v: isinstance(v, bool), "expected true or false"),
    (mi.IntType, lambda v: isinstance(v, int) and not isinstance(v, bool), "expected a whole number"),
    (
        mi.FloatType,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "expected a number",
    ),
    (mi.StrType, _is_text, "expected a string"),
    ((mi.DateTimeType, mi.DateType, mi.TimeType, mi.UUIDType), _is_text, "expected a string"),
)


def _walk(t: mi.Type, value: Any, path: str, errors: list[dict[str, str]]) -> None:
    """Collect the errors msgspec would raise one at a time: missing, unknown and non-enumerated."""
    t = _unwrap(t)
    if isinstance(t, mi.UnionType):
        members = [m for m in (_unwrap(m) for m in t.types) if not isinstance(m, mi.NoneType)]
        if len(members) == 1 and not (value is None and len(t.types) > 1):
            _walk(members[0], value, path, errors)
        return
    for kind, accepts, wording in _JSON_SCALARS:
        if isinstance(t, kind):
            if not accepts(value):
                errors.append({"field": path or "body", "message": wording})
            return
    allowed = _allowed(t)
    if allowed is not None:
        if isinstance(value, str) and value not in allowed:
            errors.append({"field": path or "body", "message": one_of(allowed)})
        return
    if isinstance(t, mi.StructType) and isinstance(value, dict):
        names = {f.encode_name: f for f in t.fields}
        for f in t.fields:
            if f.required and f.encode_name not in value:
                errors.append({"field": _join(path, f.encode_name), "message": "is required"})
        for key, item in value.items():
            if key in names:
                _walk(names[key].type, item, _join(path, key), errors)
            elif t.forbid_unknown_fields:
                errors.append({"field": _join(path, key), "message": "is not a field of this request"})
    elif isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType) and isinstance(
        value, list
    ):
        for index, item in enumerate(value):
            _walk(t.item_type, item, f"{path}[{index}]", errors)
    elif isinstance(t, mi.DictType) and isinstance(value, dict):
        keys = _allowed(t.key_type)
        for key, item in value.items():
            if keys is not None and key not in keys:
                errors.append({"field": _join(path, key), "message": one_of(keys)})
            else:
                _walk(t.value_type, item, _join(path, key), errors)


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _body_errors(request: Request[Any, Any, Any], body_type: mi.Type) -> list[dict[str, str]]:
    """Every error of a JSON body at once: not UTF-8, not JSON or too deep is a 400 of its own."""
    try:
        value = await request.json()
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8") from None
    except RecursionError:
        raise BadRequest(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except SerializationException as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if _too_deep(value):
        raise BadRequest(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    errors: list[dict[str, str]] = []
    _walk(body_type, value, "", errors)
    return errors


async def check_request(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-wide guard for the JSON API: unknown query parameters, media type, and the body's shape."""
    scope = connection.scope
    if not scope["path"].startswith(API_PREFIX) or scope.get("method") == "OPTIONS":
        return
    shape = _shape(handler, set(connection.path_params))
    if shape.body is None and not scope["query_string"]:
        return
    errors: list[dict[str, str]] = []
    if not shape.any_query:
        for name in dict.fromkeys(connection.query_params.keys()):
            if name not in shape.query_names:
                errors.append({"field": name, "message": "is not a query parameter of this route"})
    for name, t in shape.query_types.items():
        if name not in connection.query_params:
            continue
        values = connection.query_params.getall(name)
        if len(values) > 1 and not _is_list(t):
            errors.append({"field": name, "message": "give it once"})
            continue
        if "null" in values and _is_optional(t):
            # Litestar would read it as absent; the caller meant something else.
            errors.append({"field": name, "message": "leave the parameter out instead of writing null"})
            continue
        allowed = _allowed(t)
        if allowed is not None and any(value not in allowed for value in values):
            errors.append({"field": name, "message": one_of(allowed)})
    if shape.body is not None and isinstance(connection, Request):
        body = await connection.body()
        if body.strip():
            media_type = connection.content_type[0]
            if not _is_json(media_type):
                raise UnsupportedMediaType(
                    f"send the body as application/json, not {media_type or 'without a Content-Type'}"
                )
            if not _decodes(shape.strict, body):
                errors.extend(await _body_errors(connection, shape.body))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def _public(key: str, message: str, request: Request[Any, Any, Any] | None) -> str:
    """The name a client knows a field by, from Litestar's key and msgspec's message."""
    if key in {"data", "body"}:
        key = ""
    elif key.startswith("data."):
        key = key.removeprefix("data.")
    elif request is not None and key:
        handler = request.route_handler
        key = _shape(handler, set(request.path_params)).query_aliases.get(key, key)
    if found := _FIELD_IN_MESSAGE.search(message):
        key = _join(key, found.group(1))
    return key or "body"


def _wording(message: str) -> str:
    if _BLANK.search(message):
        return "must not be blank"
    if _FIELD_IN_MESSAGE.search(message):
        return "is required" if "missing" in message else "is not a field of this request"
    return message


def validation_problem(
    exc: ValidationException, request: Request[Any, Any, Any] | None = None
) -> ProblemDetailsException:
    """Litestar's refusal of a parameter or body as our problem+json, naming the public fields."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {
            "field": _public(str(p.get("key") or ""), str(p.get("message")), request),
            "message": _wording(str(p.get("message"))),
        }
        for p in problems
        if isinstance(p, dict)
    ]
    if any("malformed" in e["message"].lower() for e in errors):
        refusal: BadRequest | ValidationFailed = BadRequest("; ".join(e["message"] for e in errors))
    else:
        refusal = ValidationFailed(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail), errors=errors
        )
    return ProblemDetailsException(
        status_code=refusal.status,
        type_=refusal.type,
        title=refusal.title,
        detail=refusal.detail,
        extra={"errors": errors},
    )
