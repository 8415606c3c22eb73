"""Quality gates: the test matrix, lint, types, docs and the built wheel (``nox -l`` lists them).

``nox`` runs every session; ``.ci/run`` runs a bounded subset. Python versions come from pyenv
(``pyenv install 3.10 3.11 3.12 3.13``) or any interpreter on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent

# Make pyenv's interpreters findable as python3.X without shims or `pyenv global`.
_PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
os.environ["PATH"] = os.pathsep.join(
    [os.environ.get("PATH", ""), *(str(p) for p in sorted(_PYENV.glob("3.*/bin")))]
)

# (python, Django, DRF): each supported Django with the oldest and the newest DRF that support it
# (DRF 3.18 dropped Django 4.2).
MATRIX = [
    ("3.10", "4.2", "3.15"),
    ("3.10", "4.2", "3.17"),
    ("3.11", "5.2", "3.16"),
    ("3.11", "5.2", "3.18"),
    ("3.12", "6.1", "3.18"),
    ("3.13", "6.1", "3.18"),
]
DATABASES = {
    "sqlite": "",
    "postgres": "postgres://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
}


@nox.session(name="tests")
@nox.parametrize(
    ("python", "django", "drf"),
    MATRIX,
    ids=[f"py{p}-django{d}-drf{r}" for p, d, r in MATRIX],
)
def tests(session: nox.Session, django: str, drf: str) -> None:
    """The suite on one Python, Django and DRF (``-- --db postgres`` and pytest options pass on)."""
    session.install("-e", ".[test]", f"django~={django}.0", f"djangorestframework~={drf}.0")
    args = list(session.posargs)
    env = {}
    if args[:1] == ["--db"]:
        env["DATABASE_URL"] = DATABASES[args[1]]
        env["TEST_DATABASE_NAME"] = f"test_nox_{session.name}".replace(".", "_")[:60]
        args = args[2:]
    session.run("pytest", *args, env=env)


@nox.session
def coverage(session: nox.Session) -> None:
    """Branch coverage of the package, gated by ``fail_under`` in pyproject.toml."""
    session.install("-e", ".[test]")
    session.run("pytest", "--cov=chunked_uploads", "--cov-report=term-missing", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    session.install("-e", ".[lint,test]")
    session.run("mypy", "chunked_uploads")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    with tempfile.TemporaryDirectory() as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site)


@nox.session
def build(session: nox.Session) -> None:
    """Build sdist and wheel, check them, and run the suite against the installed wheel."""
    session.install("build", "twine")
    dist = Path(tempfile.mkdtemp(prefix="chunked-uploads-dist-"))
    session.run("python", "-m", "build", "--outdir", str(dist))
    session.run("twine", "check", "--strict", *map(str, dist.iterdir()))
    wheel = next(dist.glob("*.whl"))
    session.install(f"{wheel}[test]")
    with tempfile.TemporaryDirectory() as work:
        # Everything but the package, which must come from the wheel (pytest's configuration
        # in pyproject.toml puts "." on the path: here "." holds no chunked_uploads).
        for name in (
            "tests",
            "example_project",
            "docs",
            "README.md",
            "CHANGELOG.md",
            "mkdocs.yml",
            "pyproject.toml",
        ):
            source, target = ROOT / name, Path(work) / name
            if source.is_dir():
                shutil.copytree(
                    source, target, ignore=shutil.ignore_patterns("__pycache__", "node_modules")
                )
            elif source.exists():
                shutil.copy(source, target)
        session.chdir(work)
        session.run(
            "python",
            "-c",
            "import chunked_uploads, sys; "
            "assert 'site-packages' in chunked_uploads.__file__, chunked_uploads.__file__",
        )
        session.run("pytest", "-q", *session.posargs, env={"PYTHONPATH": os.pathsep.join([work])})
