"""Render nginx/nginx.conf.template for local processes.

Substitutes only the variables it is given, as the nginx image's envsubst does, so nginx's own
``$variables`` pass through untouched.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "nginx" / "nginx.conf.template"


def render(values: Mapping[str, str], template: str | None = None) -> str:
    text = TEMPLATE.read_text() if template is None else template

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}", sub, text)


def local_values(listen: str, gateways: Sequence[str], run_dir: Path, workers: int = 1) -> dict[str, str]:
    return {
        "NGINX_WORKER_PROCESSES": str(workers),
        "NGINX_RUN_DIR": str(run_dir),
        "NGINX_LOG_DIR": str(run_dir),
        "NGINX_LISTEN": listen,
        # Extra server blocks (nginx/tls.conf.example); an empty or missing directory adds none.
        "NGINX_INCLUDE_DIR": str(run_dir / "conf.d"),
        # max_fails=0: with passive checks only, a refused connection moves on to the next gateway
        # without marking this one down for a while (a restarted gateway is back at once).
        "GATEWAY_SERVERS": "\n        ".join(f"server {g} max_fails=0;" for g in gateways),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--gateway", action="append", required=True, help="host:port, repeatable")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(render(local_values(args.listen, args.gateway, args.run_dir)))


if __name__ == "__main__":
    main()
