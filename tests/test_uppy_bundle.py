"""The example project's committed Uppy bundle is what its build script makes from the pinned
packages: ``npm ci`` in ``example_project/uppy`` (only when the lock file changed), then
``build.mjs`` into a temporary folder must give the committed files byte for byte, licences included.
Skips when ``node``/``npm`` are missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
SOURCE = EXAMPLE / "uppy"
BUNDLE = EXAMPLE / "demo" / "static" / "demo" / "uppy"
FILES = ("uppy.min.js", "uppy.min.css", "THIRD-PARTY-LICENSES.txt")
PINNED = {
    "@uppy/core": "6.3.1",
    "@uppy/dashboard": "6.0.3",
    "@uppy/tus": "6.0.0",
    "@uppy/golden-retriever": "6.0.0",
}


def test_the_lock_file_pins_the_uppy_versions() -> None:
    lock = json.loads((SOURCE / "package-lock.json").read_text())
    versions = {name: lock["packages"][f"node_modules/{name}"]["version"] for name in PINNED}
    assert versions == PINNED
    assert "esbuild" in lock["packages"][""]["devDependencies"]


def test_the_licences_name_every_pinned_package() -> None:
    licences = (BUNDLE / "THIRD-PARTY-LICENSES.txt").read_text()
    for name, version in PINNED.items():
        assert f"\n{name}@{version} (MIT)\n" in licences
    assert "\ntus-js-client@4.3.1 (MIT)\n" in licences


def test_rebuilding_gives_the_committed_bundle(tmp_path: Path) -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to rebuild the Uppy bundle")
    lock, installed = SOURCE / "package-lock.json", SOURCE / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=SOURCE, check=True, timeout=300
        )
    subprocess.run(["node", "build.mjs", str(tmp_path)], cwd=SOURCE, check=True, timeout=120)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (BUNDLE / name).read_bytes(), name
