"""What one 1 MiB raw chunk costs in CPU, next to the floors any Django/DRF server pays, in one process.

Issue 14's target asks 1 MiB raw chunks for at most 1.4x the CPU of the bare WSGI app. This script
asks how much of that any DRF view can meet: it runs, interleaved in one process through Django's
test client (so the client's own cost is the same in every row), the same 1 MiB ``PUT``
against

- ``bare``: no view at all, the body hashed (md5) and appended to a file by the caller: the floor;
- ``django``: a plain Django view that reads the body, hashes it and appends it to a file;
- ``drf+token+1``: a DRF ``APIView`` with the example's token authentication doing the same and one
  ``UPDATE`` of the upload's row (the least a server recording progress in its database does);
- ``drf+token+3``: the same with the statements an append needs (read the row, take the lease,
  record the offset);
- ``ours``: the example project's upload endpoint appending a chunk.

Each row's median process CPU time per request is printed with its ratio to ``bare``.

    .venv/bin/python benchmarks/request_floor.py --requests 200
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BLOCK = 1024 * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per row")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="request-floor-")
    try:
        measure(workdir, args.requests)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # its uploads: about 1 GiB at the default


def measure(workdir: str, requests: int) -> None:
    """Time each row's 1 MiB request ``requests`` times, interleaved, and print the medians."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="demo.settings",
        DATABASE_URL=f"sqlite:///{workdir}/db.sqlite3",
        DJANGO_DEBUG="0",
        DJANGO_MEDIA_ROOT=os.path.join(workdir, "media"),
    )
    sys.path[:0] = [str(REPO), str(REPO / "example_project")]
    rows = build_rows(workdir, requests)
    times: dict[str, list[float]] = {name: [] for name in rows}
    for round_ in range(requests):
        order = list(rows) if round_ % 2 == 0 else list(rows)[::-1]
        for name in order:
            started = time.process_time()
            rows[name]()
            times[name].append(time.process_time() - started)
    floor = statistics.median(times["bare"])
    print(f"median process CPU per 1 MiB request, {requests} requests per row, interleaved")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:12s} {median * 1000:6.2f} ms   {median / floor:4.2f}x bare")


def build_rows(workdir: str, requests: int) -> dict[str, Callable[[], None]]:
    import django
    from django.conf import settings

    django.setup()
    settings.ALLOWED_HOSTS = ["*"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.http import HttpRequest, JsonResponse
    from django.test import Client
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.authtoken.models import Token
    from rest_framework.parsers import BaseParser
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from chunked_uploads.models import ChunkedUpload

    user = get_user_model().objects.create_user("bench", password="unused")
    token = Token.objects.create(user=user).key
    upload = ChunkedUpload.objects.create(user=user, filename="floor.bin", size=BLOCK)
    sink_path = os.path.join(workdir, "floor.bin")

    def sink(stream: Any, length: int) -> None:
        digest = hashlib.md5()
        with open(sink_path, "ab") as file:
            while length > 0:
                block = stream.read(min(BLOCK, length))
                if not block:
                    break
                digest.update(block)
                file.write(block)
                length -= len(block)

    @csrf_exempt
    def django_view(request: HttpRequest) -> JsonResponse:
        sink(request, int(request.META["CONTENT_LENGTH"]))
        return JsonResponse({"offset": BLOCK})

    class UnreadBody(BaseParser):
        media_type = "*/*"

        def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
            return {}

    class OneStatement(APIView):
        authentication_classes = [TokenAuthentication]
        parser_classes = [UnreadBody]
        throttle_classes: list[Any] = []

        def put(self, request: Request) -> Response:
            sink(request._request, int(request.META["CONTENT_LENGTH"]))
            ChunkedUpload.objects.filter(pk=upload.pk).update(offset=BLOCK)
            return Response({"offset": BLOCK})

    class ThreeStatements(OneStatement):
        def put(self, request: Request) -> Response:
            row = ChunkedUpload.objects.get(pk=upload.pk, user=request.user)
            ChunkedUpload.objects.filter(pk=row.pk, offset=row.offset).update(lease_token=None)
            sink(request._request, int(request.META["CONTENT_LENGTH"]))
            ChunkedUpload.objects.filter(pk=row.pk).update(offset=BLOCK)
            return Response({"offset": BLOCK})

    import demo.urls

    module = type(sys)("request_floor_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("floor/django/", django_view),
        path("floor/drf1/", OneStatement.as_view()),
        path("floor/drf3/", ThreeStatements.as_view()),
        path("", include(demo.urls)),
    ]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    # The example throttles each user to 600 requests a minute.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}

    client = Client()
    data = os.urandom(BLOCK)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    total = BLOCK * (requests + 1)
    first = client.generic(
        "PUT",
        "/api/uploads/",
        data,
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes 0-{BLOCK - 1}/{total}",
        **auth,
    )
    assert first.status_code == 200, first.content
    url, offset = first.json()["url"], BLOCK

    def put(path: str, **headers: str) -> None:
        response = client.generic(
            "PUT", path, data, content_type="application/octet-stream", **headers
        )
        assert response.status_code == 200, response.content

    def ours() -> None:
        nonlocal offset
        end = offset + BLOCK - 1
        put(url, HTTP_CONTENT_RANGE=f"bytes {offset}-{end}/{total}", **auth)
        offset += BLOCK

    def bare() -> None:
        client.generic("GET", "/floor/none/")  # a 404: the client's and the router's share
        sink(io.BytesIO(data), BLOCK)

    return {
        "bare": bare,
        "django": lambda: put("/floor/django/"),
        "drf+token+1": lambda: put("/floor/drf1/", **auth),
        "drf+token+3": lambda: put("/floor/drf3/", **auth),
        "ours": ours,
    }


if __name__ == "__main__":
    main()
