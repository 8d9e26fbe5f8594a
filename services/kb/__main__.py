"""python -m services.kb ingest <folder> [--redis-url URL] [--keep-missing]

Ingests a folder of Markdown, HTML, text and PDF files into the knowledge base in Redis (REDIS_URL by
default); running kb workers pick the new version up on their next refresh, without a restart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from redis.exceptions import RedisError

from services.kb.embedder import KbModelError, load_embedder
from services.kb.ingest import ingest_folder
from services.kb.redis_store import RedisKbStore
from services.settings import BusSettings, ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.kb", description=__doc__.split("\n\n")[1])
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="ingest a folder into the knowledge base")
    ingest.add_argument("folder", type=Path)
    ingest.add_argument("--redis-url", default=None, help="default: REDIS_URL, else redis://127.0.0.1:6379/0")
    ingest.add_argument(
        "--keep-missing", action="store_true", help="keep stored documents whose file is not in the folder"
    )
    args = parser.parse_args(argv)
    try:
        url = args.redis_url or BusSettings.from_env().redis_url
        embedder = load_embedder()
    except (ConfigError, KbModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = RedisKbStore.from_url(url)
    try:
        report = ingest_folder(args.folder, store, embedder, prune=not args.keep_missing)
    except NotADirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RedisError as exc:
        print(f"error: the knowledge base's Redis failed ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    finally:
        store.close()
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
