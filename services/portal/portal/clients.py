"""The four services' public HTTP APIs, as the portal calls them: with the signed-in person's own
token, the page request's trace (W3C ``traceparent``), and nothing else. The portal keeps no grants
data: every page is built from what these calls answer.

Each page request gets its own :class:`Api`, which counts its calls (the ``X-Api-Calls`` header and
the page benchmark read the count) and turns a problem+json answer into an :class:`ApiError`.
"""

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, Request

from portal.config import Settings
from portal.session import token_of

Service = Literal["applications", "scoring", "disbursement", "notifications"]


class ApiError(Exception):
    """A service answered with an error (an RFC 9457 problem, when it could say why)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        return str(self)

    @property
    def field_errors(self) -> list[dict[str, Any]]:
        return list(self.problem.get("errors") or [])


class ServiceUnavailable(Exception):
    """A service could not be reached: the page says so rather than showing something half built."""


@dataclass
class Answer:
    body: Any
    #: The version the resource is at (its ETag), for the If-Match of a later change.
    version: int | None
    headers: httpx.Headers


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@dataclass
class Api:
    http: httpx.AsyncClient
    settings: Settings
    token: str | None
    traceparent: str = field(default_factory=new_traceparent)
    calls: int = 0

    def _url(self, service: Service, path: str) -> str:
        base = {
            "applications": self.settings.applications_url,
            "scoring": self.settings.scoring_url,
            "disbursement": self.settings.disbursement_url,
            "notifications": self.settings.notifications_url,
        }[service]
        return f"{base.rstrip('/')}{path}"

    async def call(
        self, method: str, service: Service, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
        version: int | None = None, files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Answer:  # fmt: skip
        headers = {"traceparent": self.traceparent}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if version is not None:
            headers["If-Match"] = f'"{version}"'
        params = {k: v for k, v in (params or {}).items() if v is not None}
        self.calls += 1
        try:
            response = await self.http.request(method, self._url(service, path), json=json, params=params,
                                               headers=headers, files=files)  # fmt: skip
        except httpx.HTTPError as error:
            raise ServiceUnavailable(f"{service} did not answer ({type(error).__name__})") from None
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            if response.status_code >= 500:
                raise ServiceUnavailable(f"{service} answered {response.status_code}")
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        etag = response.headers.get("etag", "").strip('"')
        body = response.json() if response.content and "json" in response.headers.get("content-type", "") else None
        return Answer(body=body, version=int(etag) if etag.isdigit() else None, headers=response.headers)

    async def get(self, service: Service, path: str, **params: Any) -> Any:
        return (await self.call("GET", service, path, params=params)).body

    async def read(self, service: Service, path: str) -> Answer:
        """A resource with its version, for a page that will change it."""
        return await self.call("GET", service, path)

    async def post(self, service: Service, path: str, json: Any = None, version: int | None = None) -> Any:
        return (await self.call("POST", service, path, json=json, version=version)).body

    async def put(self, service: Service, path: str, json: Any, version: int | None = None) -> Answer:
        return await self.call("PUT", service, path, json=json, version=version)

    async def upload(
        self, service: Service, path: str, field: str, filename: str, content: bytes, version: int | None = None
    ) -> Answer:
        """A file, sent on as multipart/form-data (the services check its type and size themselves)."""
        files = {field: (filename, content, "application/octet-stream")}
        return await self.call("POST", service, path, files=files, version=version)

    async def patch(self, service: Service, path: str, json: Any, version: int | None) -> Answer:
        return await self.call("PATCH", service, path, json=json, version=version)

    async def delete(self, service: Service, path: str, version: int | None = None) -> None:
        await self.call("DELETE", service, path, version=version)

    async def raw(self, service: Service, path: str) -> httpx.Response:
        """An answer passed through as it is (a download)."""
        self.calls += 1
        headers = {"traceparent": self.traceparent, **({"Authorization": f"Bearer {self.token}"} if self.token else {})}
        response = await self.http.get(self._url(service, path), headers=headers)
        if response.status_code >= 400:
            problem = response.json() if "json" in response.headers.get("content-type", "") else {}
            raise ApiError(response.status_code, problem)
        return response


    async def post_raw(self, service: Service, path: str, content: bytes | None = None,
                       content_type: str | None = None, **params: Any) -> httpx.Response:  # fmt: skip
        """A POST whose body or answer is a file (a bank file out, a bank's CSV in), passed through."""
        self.calls += 1
        headers = {"traceparent": self.traceparent, **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
                   **({"Content-Type": content_type} if content_type else {})}  # fmt: skip
        try:
            response = await self.http.post(self._url(service, path), content=content, headers=headers,
                                            params={k: v for k, v in params.items() if v is not None})  # fmt: skip
        except httpx.HTTPError as error:
            raise ServiceUnavailable(f"{service} did not answer ({type(error).__name__})") from None
        if response.status_code >= 500:
            raise ServiceUnavailable(f"{service} answered {response.status_code}")
        if response.status_code >= 400:
            problem = response.json() if "json" in response.headers.get("content-type", "") else {}
            raise ApiError(response.status_code, problem)
        return response


def api_for(request: Request) -> Api:
    """The page request's own client: the signed-in person's token (if any); its calls are counted."""
    api = Api(request.app.state.http, request.app.state.settings, token_of(request))
    request.state.api = api
    return api


ApiDep = Annotated[Api, Depends(api_for)]
