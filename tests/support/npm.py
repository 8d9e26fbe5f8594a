"""npm packages the tests run with node, installed once into the gitignored .node/ (never vendored)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scripts.topology import ROOT

NODE_DIR = ROOT / ".node"


def npm_install(spec: str, name: str) -> Path:
    """``npm install spec`` into .node/ unless ``node_modules/<name>`` is there already; returns .node/."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise AssertionError("node and npm are needed for this test: apt-get install nodejs npm")
    if not (NODE_DIR / "node_modules" / name).exists():
        NODE_DIR.mkdir(exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), spec],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return NODE_DIR
