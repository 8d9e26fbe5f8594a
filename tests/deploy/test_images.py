"""The Dockerfiles: one extra per image, no model stack in the gateway, non-root."""

from __future__ import annotations

import re
import sys
import tomllib

import pytest

from tests.deploy.files import (
    DOCKER,
    HEAVY,
    ROOT,
    check,
)

# --- images --------------------------------------------------------------------------------------


def dockerfile(name: str) -> list[str]:
    text = (DOCKER / name).read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics: the last pattern matching the path or one of its parents decides."""

    def regex(pattern: str) -> str:
        parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
        table = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        return "".join(table.get(p, re.escape(p)) for p in parts)

    prefixes = ["/".join(path.split("/")[: i + 1]) for i in range(path.count("/") + 1)]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(re.fullmatch(regex(pattern.lstrip("!")), p) for p in prefixes):
            result = not negated
    return result


@pytest.mark.parametrize(("name", "extra"), [("gateway.Dockerfile", "gateway"), ("worker.Dockerfile", "redaction")])
def test_images_install_their_extra_only_and_run_as_non_root(name: str, extra: str) -> None:
    lines = dockerfile(name)
    assert all(line.split()[1] in {"python:3.11-slim", "base"} for line in lines if line.startswith("FROM"))
    assert re.fullmatch(r"USER [1-9]\d*(:\d+)?", [line for line in lines if line.startswith("USER")][-1])
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", "\n".join(lines), re.M))
    # Run the image's own dependency step against pyproject.toml and compare with what the extra says.
    match = re.search(r"python -c '([^']+)' (\S+) > requirements\.txt", "\n".join(lines))
    assert match, "the step that reads dependencies from pyproject.toml has changed"
    arg = re.sub(r'^"?\$\{?(\w+)\}?"?$', lambda m: args[m[1]], match[2])
    assert arg == extra
    output = check([sys.executable, "-c", match[1], arg]).split("\n")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert [r for r in output if r] == project["dependencies"] + project["optional-dependencies"][extra]
    assert not [r for r in output if HEAVY.match(r)], f"{name} would install a model stack"
    # Everything the image copies exists and is not left out of the build context by .dockerignore.
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert ignored(".venv/bin/python", patterns) and ignored(".git/HEAD", patterns)
    for line in lines:
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                files = [p for p in (ROOT / source).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
                files = files or [ROOT / source]
                kept = [f for f in files if f.exists() and not ignored(str(f.relative_to(ROOT)), patterns)]
                assert kept == files, f"{name}: {source} is missing or excluded by .dockerignore"
