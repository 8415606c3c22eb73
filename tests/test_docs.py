"""The documentation: the site builds with warnings as errors, and the reference pages cover the code.

The build needs the ``docs`` extra (MkDocs Material); the coverage checks read only Markdown and
the package's source, so they always run: a new setting, system check or error code that is not
documented fails here.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chunked_uploads import checks, conf, exceptions
from chunked_uploads.protocols.native.errors import ANSWERS, Answer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# The installed package (the source tree, or site-packages when the wheel is tested).
PACKAGE = Path(exceptions.__file__).resolve().parent


def headings(page: str) -> set[str]:
    """The text of every Markdown heading of a docs page, without the ``#``s and backticks."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return {
        line.lstrip("#").strip().strip("`") for line in text.splitlines() if line.startswith("#")
    }


def test_site_builds_strict(tmp_path: Path) -> None:
    missing = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed: pip install -e '.[docs]' to build the docs"
        )
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("protocol", "settings", "views", "checks", "migrating", "changelog"):
        assert (site / page / "index.html").is_file(), page


def test_every_setting_has_a_heading() -> None:
    names = set(re.findall(r'_get\("([A-Z_]+)"', inspect.getsource(conf)))
    assert {"EXPIRATION_DELTA", "USER_RESTRICED", "LEASE_SECONDS"} <= names
    documented = headings("settings.md")
    missing = sorted(conf.PREFIX + name for name in names if conf.PREFIX + name not in documented)
    assert not missing, f"settings without a heading in docs/settings.md: {missing}"


def test_every_system_check_id_has_a_heading() -> None:
    source = inspect.getsource(checks)
    ids = {f"chunked_uploads.E{int(n):03d}" for n in re.findall(r"_error\(\s*(\d+)", source)}
    ids |= set(re.findall(r'id="(chunked_uploads\.[A-Z]\d{3})"', source))
    assert {"chunked_uploads.E001", "chunked_uploads.W001"} <= ids
    missing = sorted(ids - headings("checks.md"))
    assert not missing, f"system checks without a heading in docs/checks.md: {missing}"


def raised_errors() -> list[Answer]:
    """The native answers of every domain error that some module of the package raises."""
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for path in PACKAGE.rglob("*.py")
        if path.name not in ("exceptions.py", "errors.py")
    )
    return [answer for cls, answer in ANSWERS.items() if re.search(rf"\b{cls.__name__}\b", sources)]


def test_every_raised_error_code_has_a_heading() -> None:
    codes = {answer.code for answer in raised_errors()}
    assert {"offset_mismatch", "upload_busy", "stored_bytes_missing"} <= codes
    missing = sorted(codes - headings("protocol.md"))
    assert not missing, f"error codes without a heading in docs/protocol.md: {missing}"


def test_fixed_error_details_are_quoted_verbatim() -> None:
    """Clients match on ``detail``: the reference must show each fixed one exactly."""
    page = (DOCS / "protocol.md").read_text(encoding="utf-8")
    fixed = {answer.detail for answer in raised_errors() if isinstance(answer.detail, str)}
    assert {"Upload has expired", "No chunk file was submitted"} <= fixed
    missing = sorted(detail for detail in fixed if f"`{detail}`" not in page)
    assert not missing, f"detail strings not quoted in docs/protocol.md: {missing}"


INSTALL_BY_NAME = re.compile(r"""pip install\s+(?:-U\s+)?["']?chunked-uploads\b""")


def test_no_page_installs_from_the_index() -> None:
    """``pip install chunked-uploads`` fails while the package is not on the index: no page (nor
    a message of the package) may tell users to run it. Remove this test after the first upload
    (docs/releasing.md)."""
    pages = [ROOT / "README.md", *DOCS.glob("*.md"), *PACKAGE.rglob("*.py")]
    offenders = [
        f"{page.name}: {match.group(0)}"
        for page in pages
        for match in INSTALL_BY_NAME.finditer(page.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert "releasing.md" in (ROOT / "mkdocs.yml").read_text()
