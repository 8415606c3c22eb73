"""Test settings: the example project's, with a throw-away media root and ``DATABASE_URL`` support.

Without ``DATABASE_URL`` the suite runs on SQLite alone; ``.ci/run`` repeats it on PostgreSQL and
MariaDB by setting ``DATABASE_URL``.
"""

import atexit
import os
import shutil
import tempfile

from demo.database import from_url
from demo.settings import *  # noqa: F403
from demo.settings import BASE_DIR, REST_FRAMEWORK

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {"default": from_url(DATABASE_URL, BASE_DIR / "test-db.sqlite3")}
MEDIA_ROOT = tempfile.mkdtemp(prefix="chunked-uploads-tests-")  # type: ignore[assignment]
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
# SQLite's test database is a file, never Django's default in-memory one: for that one, the live
# server hands the test thread's single connection to every request thread, so parallel chunks
# share one sqlite3 connection, whose ``rowcount`` (``sqlite3_changes()``) is read after the
# statement and can be another thread's. A conditional ``UPDATE`` that changed nothing then looks
# like it won (an acknowledged range never stored), or one that won looks lost (a reservation left
# behind until it expires). A connection per thread is what every deployment has.
_TEST_NAME = os.environ.get("TEST_DATABASE_NAME")
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and not _TEST_NAME:
    _TEST_FOLDER = tempfile.mkdtemp(prefix="chunked-uploads-db-")
    atexit.register(shutil.rmtree, _TEST_FOLDER, ignore_errors=True)
    _TEST_NAME = os.path.join(_TEST_FOLDER, "test.sqlite3")
DATABASES["default"]["TEST"] = {"NAME": _TEST_NAME or None}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# The example throttles each user; tests send requests faster than any client would.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
# And limits unfinished uploads, which tests that exercise other things must not run into.
DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS = None  # type: ignore[assignment]
DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES = None  # type: ignore[assignment]
