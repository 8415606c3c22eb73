"""What a protocol edge reports about the requests it answers, for metrics and logs.

Each edge (the native ``ChunkedUploadViewSet``, tus's and the IETF draft's subclasses) wraps its
``dispatch`` in ``observe(view)``. While the request runs, ``current_protocol()`` names the edge, so
receivers of the core's signals (which know no HTTP) can label what they record; once it is
answered, ``signals.request_handled`` carries its status, error ``code`` and duration. Outside a
request (the clean-up command, the admin) the protocol is ``NO_PROTOCOL``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from django.http import HttpResponseBase

from . import signals

NO_PROTOCOL = "none"
SERVER_ERROR_CODE = "server_error"


class ObservedView(Protocol):
    """What ``observe`` reads from a protocol edge's view (a DRF ``APIView``)."""

    @property
    def protocol(self) -> str: ...

    @property
    def kwargs(self) -> Mapping[str, Any]: ...


_view: ContextVar[ObservedView | None] = ContextVar("chunked_uploads_view", default=None)


@dataclass
class Observation:
    """The request being answered; the edge sets ``response`` once it has one.

    ``code`` names the error of a refused request; left ``None``, it is read from the ``code`` key
    of the response's data (the native protocol's error body). An edge whose error bodies carry no
    such key (tus answers with bare statuses) sets it from the domain error it mapped.
    """

    response: HttpResponseBase | None = None
    code: str | None = None


def current_protocol() -> str:
    """The protocol of the request being answered, or ``NO_PROTOCOL`` outside one."""
    view = _view.get()
    return view.protocol if view is not None else NO_PROTOCOL


def current_user_id() -> str | None:
    """The authenticated caller of the request being answered, if any."""
    return user_id_of(getattr(_view.get(), "request", None))


@contextmanager
def observe(view: ObservedView) -> Iterator[Observation]:
    """Run a request under ``view.protocol`` and send ``request_handled`` when it is answered.

    An exception escaping the block is reported as a ``500`` with code ``server_error`` (Django
    turns it into one) and raised again.
    """
    observation = Observation()
    started = time.perf_counter()
    token = _view.set(view)
    try:
        yield observation
    except BaseException:
        _report(view, None, None, started)
        raise
    else:
        _report(view, observation.response, observation.code, started)
    finally:
        _view.reset(token)


def _report(
    view: ObservedView, response: HttpResponseBase | None, code: str | None, started: float
) -> None:
    status = response.status_code if response is not None else 500
    request = getattr(view, "request", None)
    signals.request_handled.send(
        sender=type(view),
        request=request,
        protocol=view.protocol,
        action=getattr(view, "action", None),
        status=status,
        code=(code or _error_code(response)) if status >= 400 else None,
        upload_id=_upload_id(view, response),
        user_id=user_id_of(request),
        duration=time.perf_counter() - started,
    )


def user_id_of(request: Any) -> str | None:
    """The authenticated user's primary key as text, without authenticating again."""
    # DRF keeps the outcome of authentication in ``_user``; reading ``request.user`` would run the
    # authenticators again and raise when they failed.
    user = getattr(request, "_user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _error_code(response: HttpResponseBase | None) -> str:
    data = getattr(response, "data", None)
    if isinstance(data, Mapping) and isinstance(data.get("code"), str):
        return str(data["code"])
    return SERVER_ERROR_CODE if response is None or response.status_code >= 500 else "error"


def _upload_id(view: ObservedView, response: HttpResponseBase | None) -> str | None:
    lookup = str(getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk"))
    if lookup in view.kwargs:
        return str(view.kwargs[lookup])
    data = getattr(response, "data", None)
    if isinstance(data, Mapping) and "id" in data:
        return str(data["id"])
    return None
