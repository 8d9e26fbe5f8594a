"""The batch worker's image carries gateway/vblaze/render.py without aiohttp: it must stay standard library."""

from __future__ import annotations

import ast
import sys

from tests.support import ROOT


def test_render_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "gateway" / "vblaze" / "render.py").read_text())
    modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert modules - {"__future__"} <= sys.stdlib_module_names
