"""The OpenAPI document's rules, stated once (drf-spectacular).

Every operation documents each answer its view can give, derived from what the view declares:
authentication → 401 (and 429 for repeated wrong tokens), a permission rule that can refuse →
403, a path parameter → 404, query parameters or a body → 400; a database outage is a 503
anywhere. Views declare only what is theirs alone (409, a 503 of their own), and every error
is documented with its body: ``{"detail": "…"}``, or per-field lists for a 400.
"""

from __future__ import annotations

import copy
from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from sessions.conditional import conditional_parameters

ERROR = "Error"
VALIDATION_ERROR = "ValidationError"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "What went wrong, in a sentence.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Per query parameter or body field, what is wrong with it (`Unknown query parameter.`, "
                   "`Unknown field.`, `This field is required.`, …); `detail` when no one field is at fault, "
                   "`non_field_errors` for the body as a whole; list items by their index.",
    "additionalProperties": {"anyOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    ]},
    "example": {"status": ["'done' is not one of: ongoing, completed, aborted."]},
}
# A text/event-stream answer's schema describes each of its events (OpenAPI 3.0).
SSE = "text/event-stream"
ERROR_EVENT = "ErrorEvent"
ERROR_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error told to an EventSource: one `error` event whose data is the JSON error.",
    "properties": {"event": {"type": "string", "enum": ["error"]},
                   "data": {"type": "string", "example": '{"detail": "Authentication credentials were not provided."}'}},
    "required": ["event", "data"],
}

# What each shared code means, unless the view says it better.
DESCRIPTIONS = {
    400: "A query parameter or body field is unknown, missing, empty or invalid.",
    401: "No credentials, or wrong ones.",
    403: "Not allowed (or, with a session cookie, no CSRF token).",
    404: "No such session (or file).",
    415: "The body's media type is not one the API reads (send application/json).",
    429: "Too many wrong tokens from this address; try again later.",
    503: "The database is not available right now; try again shortly.",
}
NOT_MODIFIED = "Not modified: the copy named by If-None-Match (or If-Modified-Since) is current; no body."
# Path parameters illustrated with the reference fixtures' output (a session of the real CLI).
PATH_EXAMPLES = {"name": "20261121_043601-facial_expressions", "filename": "facial_expressions_0000_seed-42.png"}
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
# Permission classes that refuse no signed-in user.
NEVER_REFUSE = (permissions.AllowAny, permissions.IsAuthenticated)


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        # A copy: drf-spectacular's enum hook rewrites schemas in place, and those given as
        # dicts (the stream's events, ours below) live on between documents.
        responses = copy.deepcopy(super()._get_response_bodies(direction))
        for status, description in self.error_codes().items():
            responses.setdefault(str(status), {"description": description})
        if self.is_conditional():
            responses["304"] = {"description": NOT_MODIFIED, "headers": self._get_response_headers_for_code("304")}
        for code, response in responses.items():
            # Errors the view declared with a description alone get their body here, in
            # whichever format the client's Accept chose.
            if int(code) >= 400 and "content" not in response:
                response["content"] = {media_type: {"schema": self.error_body(int(code), media_type)}
                                       for media_type in self.map_renderers("media_type")}
        return dict(sorted(responses.items()))

    def error_codes(self) -> dict[int, str]:
        """The error answers this operation can give, from what its view declares."""
        codes = {400: DESCRIPTIONS[400]}  # every view rejects unknown query parameters
        secured = [requirement for requirement in self.get_auth() if requirement]
        if secured:
            codes[401] = DESCRIPTIONS[401]
            codes[429] = DESCRIPTIONS[429]
        refusals = [getattr(permission, "message", "") for permission in self.view.get_permissions()
                    if not isinstance(permission, NEVER_REFUSE) and self._may_refuse(permission)]
        if refusals or (secured and self.method not in permissions.SAFE_METHODS):
            codes[403] = " ".join(str(message) for message in refusals) or DESCRIPTIONS[403]
        parameters = self._get_parameters()
        if any(parameter["in"] == "path" for parameter in parameters):
            codes[404] = DESCRIPTIONS[404]
        elif any(parameter["name"] == "format" for parameter in parameters):  # DRF: no such format
            codes[404] = "No such format."
        if self.method not in permissions.SAFE_METHODS:
            codes[415] = DESCRIPTIONS[415]
        codes[503] = DESCRIPTIONS[503]
        return codes

    def is_conditional(self) -> bool:
        """A GET that answers 304 when the client's copy is current (sessions.conditional)."""
        action = getattr(self.view, "action", None) or "get"  # a plain APIView names its method
        return self.method == "GET" and action in getattr(self.view, "conditional", ())

    def get_override_parameters(self) -> list[Any]:
        parameters = super().get_override_parameters()
        return [*parameters, *conditional_parameters()] if self.is_conditional() else parameters

    def _may_refuse(self, permission: object) -> bool:
        # The API's permission rules let reads pass (sessions.permissions.api_permission).
        return not (getattr(permission, "reads_pass", False) and self.method in permissions.SAFE_METHODS)

    def error_body(self, status: int, media_type: str = "application/json") -> dict[str, Any]:
        if media_type == SSE:
            name, schema = ERROR_EVENT, ERROR_EVENT_SCHEMA
        else:
            name, schema = (VALIDATION_ERROR, VALIDATION_ERROR_SCHEMA) if status == 400 else (ERROR, ERROR_SCHEMA)
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name,
                                      schema=copy.deepcopy(schema))
        self.registry.register_on_missing(component)
        return component.ref

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        # Bodies that refuse unknown fields say so (sessions.serializers.RejectUnknownFieldsMixin).
        if direction == "request" and getattr(serializer, "rejects_unknown_fields", False):
            schema["additionalProperties"] = False
        # Items that fields= can thin out (sessions.sparse) hold every field unless asked otherwise.
        if direction == "response" and getattr(serializer, "sparse", False):
            schema.pop("required", None)
            schema["description"] = (schema.get("description", "") + "\n\nEvery field is present unless "
                                     "`fields=` names fewer.").strip()
        return schema

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "path" and parameter["name"] in PATH_EXAMPLES:
                parameter.setdefault("example", PATH_EXAMPLES[parameter["name"]])
            if parameter["in"] == "query":
                schema = parameter["schema"]
                without_nul(schema.get("items", schema))
        return parameters

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.CharField):
            # DRF's CharField refuses NUL characters, and trims before it refuses blank text.
            blank_refused = not field.allow_blank and field.trim_whitespace
            without_nul(schema, pattern=NOT_BLANK if blank_refused else NO_NUL)
        return schema

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        # An action that filters with a FilterSet of its own (``filtersets`` on the view, no filter
        # backend) is documented as the backend documents a list's.
        filterset = getattr(self.view, "filtersets", {}).get(getattr(self.view, "action", None))
        if filterset is None or self.get_filter_backends():
            return super()._get_filter_parameters()
        extension = FilterParameters(DjangoFilterBackend())
        return [parameter for name, flt in filterset.base_filters.items()
                for parameter in extension.resolve_filter_field(self, filterset._meta.model, filterset, name, flt)]


def without_nul(schema: dict[str, Any], pattern: str = NO_NUL) -> None:
    """Text with a NUL character is a 400 anywhere (sdgen_site.middleware, DRF's CharField):
    a string without a pattern of its own says so with one."""
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        schema.setdefault("pattern", pattern)


class FilterParameters(DjangoFilterExtension):
    """A filter with an ``openapi_schema()`` of its own is documented with it: what it accepts
    (a date, one of the orders, ``Name:value`` pairs) is known to the filter alone."""

    priority = 1

    def resolve_filter_field(self, auto_schema: Any, model: Any, filterset_class: Any, field_name: str,
                             filter_field: Any) -> list[dict[str, Any]]:
        declared = getattr(filter_field, "openapi_schema", None)
        if declared is None:
            return super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        schema = declared()
        return [build_parameter_type(
            name=field_name, required=filter_field.extra["required"], location=OpenApiParameter.QUERY,
            description=self._get_field_description(filter_field, None), schema=schema,
            explode=True if schema.get("type") == "array" else None,
            style="form" if schema.get("type") == "array" else None,
        )]
