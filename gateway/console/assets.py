"""The console's static files, read once from the package (``static/``) and served from memory.

Only files that exist at start-up are served, each with an explicit content type: a path never reaches
the file system, so nothing outside ``static/`` can be asked for.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
GATEWAY_PLACEHOLDER = "{{GATEWAY_ID}}"
_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".LICENSE": "text/plain",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def load_assets(root: Path = STATIC) -> dict[str, Asset]:
    """Every servable file under ``root`` by its path relative to it (``js/app.js``)."""
    assets = {}
    for path in sorted(root.rglob("*")):
        content_type = _TYPES.get(path.suffix)
        if path.is_file() and content_type is not None:
            assets[path.relative_to(root).as_posix()] = Asset(path.read_bytes(), content_type)
    return assets


def page(template: bytes, gateway_id: str) -> bytes:
    """The console page naming the gateway that served it."""
    return template.replace(GATEWAY_PLACEHOLDER.encode(), html.escape(gateway_id).encode())
