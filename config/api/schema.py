"""OpenAPI: every operation documents the error envelope for the errors it can answer.

The envelope's ``code`` lists every registered code (``config.errors.all_error_codes``).
"""

import copy

from drf_spectacular.utils import OpenApiResponse

from config.errors import all_error_codes

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["status", "code", "message"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "code": {"type": "string", "example": "VALIDATION_ERROR"},
        "message": {"type": "string"},
        "detail": {"description": "Optional details, e.g. the invalid fields."},
    },
}

COMMON_ERRORS = {
    "400": "Invalid input.",
    "401": "Missing, invalid or expired token.",
    "403": "The user's role or permissions do not allow this.",
    "404": "Not found, or not visible to the user.",
    # Every endpoint is throttled (anonymous and per-user budgets, stricter ones on the login).
    "429": "RATE_LIMIT_EXCEEDED: too many requests; try again after the Retry-After header's seconds.",
}
# Only operations that take a request body can meet these.
BODY_ERRORS = {
    "413": "The request body is too large.",
    "415": "The request body's content type is not accepted.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook."""
    envelope = copy.deepcopy(ERROR_ENVELOPE)
    envelope["properties"]["code"]["enum"] = all_error_codes()
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = envelope
    ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            errors = dict(COMMON_ERRORS, **(BODY_ERRORS if "requestBody" in operation else {}))
            for status, description in errors.items():
                if status == "401" and operation.get("security") == [{}]:
                    continue
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result


def error_response(description: str) -> OpenApiResponse:
    """A documented error answer: the ``ErrorEnvelope`` component, for ``extend_schema(responses=...)``."""
    return OpenApiResponse({"$ref": "#/components/schemas/ErrorEnvelope"}, description=description)


def broker_unavailable_response() -> OpenApiResponse:
    """The 503 of an endpoint that starts a job (``config.jobs.BrokerUnavailable``)."""
    return error_response(
        "BROKER_UNAVAILABLE: the job queue is down, so the job was failed at once (its id in detail.job_id); "
        "try again later."
    )
