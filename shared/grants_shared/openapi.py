"""The OpenAPI document tells the truth about errors: every operation declares the RFC 9457
``application/problem+json`` answers it can give, its ``If-Match`` header and its ``ETag`` header.

Most of that follows from what a route depends on, so it is filled in once here rather than written
by hand on every route (where it would drift):

- a bearer token dependency: 401; a role check: 403;
- a path parameter: 404 (an id that does not exist, or that the caller may not see);
- any parameter or body: 422 (FastAPI's own HTTPValidationError schema is replaced: the services
  answer problem+json, with an ``errors`` list);
- ``IfMatch``: 412; ``IfMatchRequired``: 412 and 428.

What only the route knows (a 409 from a state machine, a 422 for a broken programme rule) it says
with ``responses=problems(409, ...)``; a route that answers with an ETag says ``responses=etag()``.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from grants_shared.errors import PROBLEM_JSON, Problem

DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid bearer token",
    403: "Your roles do not allow this",
    404: "No such resource, or not one you may see",
    405: "Method not allowed (the Allow header lists those that are)",
    409: "Conflicts with the current state",
    412: "If-Match names a version other than the current one",
    422: "The request is malformed, or breaks a rule of the programme",
    428: "If-Match is required",
    503: "Busy: nothing was written; try again after the Retry-After seconds",
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER_HEADER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
ETAG_HEADER = {"ETag": {"description": "The version now stored; send it back in If-Match to change it",
                        "schema": {"type": "string", "examples": ['"3"']}}}


def problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """Error answers a route declares beyond those its dependencies imply, e.g. ``problems(409)``.
    A keyword names a status with its own description: ``problems(s409="The offer has expired")``."""
    declared: dict[int | str, dict[str, Any]] = {status: {"description": DESCRIPTIONS[status]} for status in statuses}
    for key, description in described.items():
        declared[int(key.removeprefix("s"))] = {"description": description}
    return declared


def etag(status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The success answer carries an ETag header."""
    return {status: {"headers": ETAG_HEADER}}


def document_problems(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _declare_problems(schema, app)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_problems(schema: dict[str, Any], app: FastAPI) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for context in iter_route_contexts(app.routes):
        route: Any = context
        if not isinstance(context.original_route, APIRoute) or not route.include_in_schema:
            continue
        implied = _implied_statuses(route)
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(implied | {int(s) for s in responses if str(s).isdigit() and int(s) >= 400}):
                answer = responses.setdefault(str(status), {})
                if answer.get("description") in (None, "Validation Error"):
                    answer["description"] = DESCRIPTIONS.get(status, "Error")
                answer["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                if status == 503:
                    answer["headers"] = RETRY_AFTER_HEADER
            operation["responses"] = dict(sorted(responses.items()))
            if 428 in implied:
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "header" and parameter["name"] == "If-Match":
                        parameter["required"] = True


def _implied_statuses(route: Any) -> set[int]:
    statuses: set[int] = set()
    calls = [d.call for d in _dependencies(route.dependant)]
    names = {getattr(call, "__name__", "") for call in calls}
    if names & {"current_caller", "optional_caller"}:
        statuses.add(401)
    if any(getattr(call, "roles", None) for call in calls):
        statuses.add(403)
    if "_optional_version" in names:
        statuses.add(412)
    if "_required_version" in names:
        statuses |= {412, 428}
    if "_transactor" in names:
        statuses.add(503)  # a change that could not be made in time (errors.Busy), with Retry-After
    dependant = route.dependant
    params = [*_params(route.dependant)]
    if dependant.path_params or any(d.path_params for d in _dependencies(dependant)):
        statuses.add(404)
    if params:
        statuses.add(422)
    return statuses


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _params(dependant: Dependant) -> Iterator[object]:
    """Parameters a caller sends, the If-Match header aside (its own answers are 412 and 428)."""
    yield from dependant.path_params
    yield from dependant.query_params
    yield from dependant.body_params
    for dependency in _dependencies(dependant):
        yield from dependency.path_params
        yield from dependency.query_params
        yield from dependency.body_params
