"""Database settings from ``DATABASE_URL`` (sqlite, postgres and mysql/mariadb URLs), or SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import django

ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}


def sqlite(path: Path | str) -> dict[str, Any]:
    """SQLite set up for several processes: WAL, a busy timeout, immediate write transactions.

    ``synchronous=NORMAL`` drops SQLite's fsync per commit (in WAL mode a process crash still
    loses nothing; a power loss may roll back the last commits, which the upload core survives:
    the offset goes back and the extra bytes are truncated on resume). Connections persist
    between requests: reopening one per request makes SQLite checkpoint its log every time.
    """
    config: dict[str, Any] = {
        "ENGINE": ENGINES["sqlite"],
        "NAME": str(path),
        "OPTIONS": {"timeout": 30},
        "CONN_MAX_AGE": None,
    }
    if django.VERSION >= (5, 1):
        config["OPTIONS"].update(
            transaction_mode="IMMEDIATE",
            init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        )
    return config


def from_url(url: str, default_sqlite: Path) -> dict[str, Any]:
    """Parse ``scheme://user:password@host:port/name?option=value``."""
    if not url:
        return sqlite(default_sqlite)
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        return sqlite(unquote(parts.path[1:]) or default_sqlite)
    config: dict[str, Any] = {
        "ENGINE": ENGINES[scheme],
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
    if config["ENGINE"] == ENGINES["mysql"]:
        use_pymysql()
        config["OPTIONS"].setdefault("charset", "utf8mb4")
    return config


def use_pymysql() -> None:
    """Use the pure-Python PyMySQL driver where mysqlclient (a C build) is not installed."""
    try:
        import MySQLdb  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        import pymysql  # type: ignore[import-untyped]

        pymysql.version_info = (2, 2, 7, "final", 0)  # Django checks mysqlclient's version
        pymysql.install_as_MySQLdb()
