"""Model files from packages published by individuals are loaded only when their SHA-256 is the pinned one."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pinned(path: Path, expected: str, what: str, error: type[Exception]) -> Path:
    """``path`` once its SHA-256 is ``expected``; else ``error`` saying which file and what is wrong."""
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise error(f"cannot read {what} {str(path)!r}: {exc}") from None
    if digest != expected:
        raise error(
            f"{what} {str(path)!r} has SHA-256 {digest}, expected {expected}; refusing to load a model that is"
            " not the pinned one"
        )
    return path
