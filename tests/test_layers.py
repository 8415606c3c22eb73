"""The package's layers, read from its source with ``ast``: only the protocol edges know DRF, and the
core knows neither DRF nor any edge.

The core (uploads, chunks, stores, digests, ranges, exceptions, models, bodies) is what a second
protocol (tus, the IETF draft) reuses; an import of ``rest_framework`` or of ``protocols`` there,
direct or through another module of the package, would tie it to the native edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chunked_uploads

PACKAGE = Path(chunked_uploads.__file__).resolve().parent
NAME = "chunked_uploads"

CORE = (
    "uploads",
    "chunks",
    "parts",
    "combinable_checksums",
    "stores",
    "chunk_digests",
    "resumable_digests",
    "ranges",
    "exceptions",
    "models",
    "bodies",
)
# Modules that only re-export the native edge where the documentation has always shown it.
EDGE_ALIASES = ("views", "routers", "serializers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), at any depth of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def closure(module: str) -> set[str]:
    """``module``'s imports, and those of every module of the package it imports."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        for imported in MODULES.get(current, set()):
            if imported not in seen:
                seen.add(imported)
                pending.append(imported)
    return seen


def in_layer(module: str, layer: str) -> bool:
    full = f"{NAME}.{layer}"
    return module == full or module.startswith(full + ".")


def test_the_walk_sees_the_package() -> None:
    assert {f"{NAME}.uploads", f"{NAME}.protocols.native.views", f"{NAME}.bodies"} <= set(MODULES)
    # The walk follows the package's own imports: the alias module reaches DRF through the edge.
    assert "rest_framework.viewsets" in closure(f"{NAME}.views")


def test_only_protocol_edges_import_drf() -> None:
    offenders = sorted(
        module
        for module, imported in MODULES.items()
        if not in_layer(module, "protocols")
        and any(name.split(".")[0] == "rest_framework" for name in imported)
    )
    assert not offenders, f"modules outside protocols/ importing rest_framework: {offenders}"


@pytest.mark.parametrize("layer", CORE)
def test_the_core_imports_no_drf_and_no_edge(layer: str) -> None:
    for module in (name for name in MODULES if in_layer(name, layer)):
        reached = closure(module)
        drf = sorted(name for name in reached if name.split(".")[0] == "rest_framework")
        edges = sorted(name for name in reached if in_layer(name, "protocols"))
        aliases = sorted(
            name for name in reached if any(in_layer(name, alias) for alias in EDGE_ALIASES)
        )
        assert not drf, f"{module} reaches DRF: {drf}"
        assert not edges, f"{module} reaches a protocol edge: {edges}"
        assert not aliases, f"{module} reaches the native edge's aliases: {aliases}"


def test_the_client_imports_nothing_of_the_server() -> None:
    """The client and CLI are a client: no server module, no Django, no DRF."""
    for module in (name for name in MODULES if in_layer(name, "client")):
        reached = closure(module)
        server = sorted(
            name
            for name in reached
            if (name.startswith(NAME + ".") and not in_layer(name, "client"))
            or name.split(".")[0] in ("django", "rest_framework")
        )
        assert not server, f"{module} reaches the server side: {server}"
