"""The example project's URLs plus its static files, for the example under gunicorn in tests
(``DEBUG`` is off there, and Django serves static files itself only under ``runserver`` with
``DEBUG`` on): ``settings={"ROOT_URLCONF": "tests.urls_static"}`` in ``servers.live_server``."""

from __future__ import annotations

from demo.urls import urlpatterns as example_urlpatterns
from django.contrib.staticfiles.views import serve
from django.urls import re_path

urlpatterns = [
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
    *example_urlpatterns,
]
