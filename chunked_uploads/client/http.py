"""The HTTP side of the client: httpx, the server's answers, its errors, and token auth.

Everything that talks to ``httpx`` directly, apart from the uploader's own requests: importing this
module without httpx installed fails with an ``ImportError`` that says what to install.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

try:
    import httpx
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "chunked_uploads.client needs httpx, which is not installed: pip install 'httpx>=0.27'"
    ) from error

RETRYABLE_CODES = frozenset({"upload_busy"})

HTTPError = httpx.HTTPError  # what a network failure raises once retries are exhausted


class UploadError(Exception):
    """The server refused a request for a reason that retrying will not fix."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.body = body or {}


class TokenAuth(httpx.Auth):
    """DRF's ``Authorization: Token <key>`` (``keyword`` for ``Bearer`` and friends)."""

    def __init__(self, token: str, keyword: str = "Token") -> None:
        self.header = f"{keyword} {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header
        yield request


@dataclass(frozen=True)
class Upload:
    """An upload as the server describes it; ``data`` is the whole response body."""

    id: str
    url: str
    offset: int
    size: int | None
    status: str
    filename: str
    data: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> Upload:
        return cls(
            id=str(data.get("id", "")),
            url=str(data["url"]),
            offset=int(data.get("offset") or 0),
            size=data.get("size"),
            status=str(data.get("status", "")),
            filename=str(data.get("filename", "")),
            data=data,
        )


class Retry(UploadError):
    """A transient failure (5xx, ``upload_busy``): wait, ask where the server stands, retry."""


class UploadGone(UploadError):
    """The upload no longer exists on the server (404, 410): a saved one must start over."""


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def check_response(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a success; ``Retry`` for a transient failure, ``UploadError`` otherwise."""
    if response.is_success:
        if response.status_code == 204 or not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body
    body = _error_body(response)
    message = str(body.get("detail") or f"{response.status_code} {response.reason_phrase}")
    code = str(body.get("code", ""))
    error_class: type[UploadError] = UploadError
    if response.status_code >= 500 or code in RETRYABLE_CODES:
        error_class = Retry
    elif response.status_code in (404, 410):
        error_class = UploadGone
    raise error_class(message, status_code=response.status_code, code=code, body=body)


def http_client(auth: Any, http: httpx.Client | None, timeout: float) -> httpx.Client:
    """``http`` if given, else a new client with ``auth`` (a ``(user, password)`` pair is Basic)."""
    if http is not None:
        return http
    if isinstance(auth, tuple):
        auth = httpx.BasicAuth(*auth)
    return httpx.Client(auth=auth, timeout=timeout, follow_redirects=False)
