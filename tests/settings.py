"""Test settings: the example project's, with a throw-away media root and ``DATABASE_URL`` support.

Without ``DATABASE_URL`` the suite runs on SQLite alone; ``.ci/run`` repeats it on PostgreSQL and
MariaDB by setting ``DATABASE_URL``.
"""

import os
import tempfile

from demo.database import from_url
from demo.settings import *  # noqa: F403
from demo.settings import BASE_DIR, REST_FRAMEWORK

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {"default": from_url(DATABASE_URL, BASE_DIR / "test-db.sqlite3")}
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}

MEDIA_ROOT = tempfile.mkdtemp(prefix="chunked-uploads-tests-")  # type: ignore[assignment]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# The example throttles each user; tests send requests faster than any client would.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
# And limits unfinished uploads, which tests that exercise other things must not run into.
DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_UPLOADS = None  # type: ignore[assignment]
DRF_CHUNKED_UPLOAD_MAX_UNFINISHED_BYTES = None  # type: ignore[assignment]
