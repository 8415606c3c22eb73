"""``bodies/interim.py``: a 1xx interim response written to gunicorn's connection, checked on a
real gunicorn request parser over a socket pair (the live 104 is in ``test_ietf_live.py``)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import RequestFactory, override_settings

from chunked_uploads.bodies.interim import gunicorn_socket, send_interim

from .test_gunicorn_bodies import Connection, conn, put_request  # noqa: F401  (the fixture)

HEADERS = {"Location": "http://testserver/api/resumable/x/", "Upload-Draft-Interop-Version": "8"}


def gunicorn_request(connection: Connection, protocol: str = "HTTP/1.1") -> Any:
    connection.send(put_request("/x/", b"body"))
    parsed = connection.next_request()
    request = RequestFactory().put("/x/", SERVER_PROTOCOL=protocol)
    request.META["wsgi.input"] = parsed.body
    return request


@override_settings(DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES=True)
def test_the_interim_response_goes_out_before_the_body_is_read(conn: Connection) -> None:  # noqa: F811
    request = gunicorn_request(conn)
    assert send_interim(request, 104, "Upload Resumption Supported", HEADERS)
    conn.client.settimeout(5)
    sent = conn.client.recv(4096)
    assert sent == (
        b"HTTP/1.1 104 Upload Resumption Supported\r\n"
        b"Location: http://testserver/api/resumable/x/\r\n"
        b"Upload-Draft-Interop-Version: 8\r\n\r\n"
    )
    assert request.META["wsgi.input"].read() == b"body"  # the body is untouched


def test_nothing_is_sent_while_the_setting_is_off(conn: Connection) -> None:  # noqa: F811
    request = gunicorn_request(conn)
    assert not send_interim(request, 104, "Upload Resumption Supported", HEADERS)


@override_settings(DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES=True)
def test_nothing_is_sent_over_http_1_0(conn: Connection) -> None:  # noqa: F811
    request = gunicorn_request(conn, "HTTP/1.0")
    assert not send_interim(request, 104, "Upload Resumption Supported", HEADERS)


@override_settings(DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES=True)
def test_nothing_is_sent_under_other_servers() -> None:
    request = RequestFactory().put("/x/", SERVER_PROTOCOL="HTTP/1.1")
    request.META["wsgi.input"] = io.BytesIO(b"body")
    assert gunicorn_socket(request.META["wsgi.input"]) is None
    assert not send_interim(request, 104, "Upload Resumption Supported", HEADERS)


@override_settings(DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES=True)
@pytest.mark.parametrize(
    ("status", "headers"),
    [(200, HEADERS), (101, HEADERS), (104, {"Location": "x\r\nSet-Cookie: evil"})],
)
def test_refuses_what_is_no_interim_response(
    conn: Connection,  # noqa: F811
    status: int,
    headers: dict[str, str],
) -> None:
    request = gunicorn_request(conn)
    with pytest.raises(ValueError):
        send_interim(request, status, "Reason", headers)


@override_settings(DRF_CHUNKED_UPLOAD_INTERIM_RESPONSES=True)
def test_a_client_gone_away_is_no_error(conn: Connection) -> None:  # noqa: F811
    request = gunicorn_request(conn)
    conn.client.close()
    for _ in range(3):  # the first send may still fit in the buffer; later ones hit the reset
        result = send_interim(request, 104, "Upload Resumption Supported", HEADERS)
    assert result is False
