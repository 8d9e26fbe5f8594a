"""A folder of Markdown, HTML, plain text and PDF files, read into documents with their metadata.

Per file (the suffix decides the reader; other files are ignored, hidden files and folders too):
- title: Markdown's first `#` heading, HTML's <title> (else its first <h1>), a PDF's /Title metadata;
  else the first line of text; else the file name.
- link: a front-matter `link:` (Markdown and text), an HTML <link rel="canonical"> (else <meta
  property="og:url">); else ``file:<path relative to the folder>``, so a reader can still find the file.
- asset_type: "web" for Markdown, HTML and text, "pdf" for PDF (AI12Z's values: web, pdf, docx).
- description: a front-matter `description:`, HTML <meta name="description">, a PDF's /Subject; else the
  first sentence of the text.
- tags: a front-matter `tags:` ([a, b] or a "- a" list), HTML <meta name="keywords">, a PDF's /Keywords
  (comma separated); lower-cased.
Front matter is a leading block between `---` lines of `key: value` pairs (a YAML subset, no dependency).

doc_id is the path relative to the folder (POSIX separators): re-ingesting the same file replaces it.
A file that cannot be read or holds no text is reported in `LoadResult.skipped` and never stops the rest.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from services.kb.html_text import HtmlPage, parse_html

log = logging.getLogger(__name__)

MARKDOWN = frozenset({".md", ".markdown"})
HTML = frozenset({".html", ".htm"})
TEXT = frozenset({".txt"})
PDF = frozenset({".pdf"})
SUFFIXES = MARKDOWN | HTML | TEXT | PDF
# A knowledge-base article is far below this; a larger file is an export or a mistake, not one document.
MAX_FILE_BYTES = 20 << 20

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKUP = re.compile(r"(\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    link: str
    asset_type: str
    description: str
    tags: tuple[str, ...]
    # Paragraphs (headings, list items, table rows each their own) separated by blank lines.
    text: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)


class BadDocument(ValueError):
    """A file that cannot be read as a document; the message says why, never what it contains."""


def first_sentence(text: str, limit: int = 300) -> str:
    """The first sentence of the first paragraph that reads as prose (headings and titles end in no stop)."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    prose = next((p for p in paragraphs if p.endswith((".", "!", "?", ":"))), paragraphs[0] if paragraphs else "")
    sentence = _SENTENCE_END.split(prose, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


def _tags(raw: str) -> tuple[str, ...]:
    items = (t.strip().strip("\"'").lower() for t in raw.strip().strip("[]").split(","))
    return tuple(dict.fromkeys(t for t in items if t))


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """({key: raw value}, the rest) for a leading `---` block; a `- item` list is joined with commas."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, str] = {}
    key = ""
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() in {"---", "..."}:
            return meta, "\n".join(lines[n + 1 :])
        if line.lstrip().startswith("- ") and key:
            item = line.strip()[2:].strip()
            meta[key] = f"{meta[key]},{item}" if meta[key] else item
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            meta[key] = value.strip().strip("\"'")
    return {}, text  # no closing line: not front matter after all


def _paragraphs(lines: list[str]) -> str:
    """Blank-line separated paragraphs; a line that is a heading or list item stands alone."""
    out: list[str] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        alone = stripped.startswith(("#", "|")) or bool(_MD_LIST.match(line))
        if (not stripped or alone) and current:
            out.append(" ".join(current))
            current = []
        if alone:
            out.append(stripped)
        elif stripped:
            current.append(stripped)
    if current:
        out.append(" ".join(current))
    return "\n\n".join(out)


def _markdown(raw: str) -> tuple[str, str]:
    """(first heading, plain text) of Markdown: markup dropped, headings kept as their own paragraphs."""
    title = ""
    lines: list[str] = []
    fenced = False
    for raw_line in raw.split("\n"):
        line = raw_line
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if heading:
                title = title or _MD_MARKUP.sub("", heading.group(1))
                line = "# " + heading.group(1)  # a marker the paragraph splitter keeps apart; dropped below
            if re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line) and "-" in line:
                continue  # a table's |---| rule
            line = _MD_MARKUP.sub("", _MD_LINK.sub(r"\1", line))
        lines.append(line)
    text = _paragraphs(lines)
    text = "\n\n".join(
        _MD_LIST.sub("", p.lstrip("#")).strip().strip("|").replace(" | ", ", ").strip() for p in text.split("\n\n")
    )
    return title, text


def _pdf(path: Path) -> tuple[dict[str, str], str]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:
        raise BadDocument("reading PDF needs pypdf (pip install rtgateway[kb])") from exc
    try:
        reader = PdfReader(path)
        info = reader.metadata
        meta = {
            "title": str(info.title or "") if info else "",
            "description": str(info.subject or "") if info else "",
            "tags": str(info.get("/Keywords", "") or "") if info else "",
        }
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as exc:
        raise BadDocument(f"not a readable PDF ({type(exc).__name__})") from None
    # pypdf breaks lines where the page did; a blank line (or a line ending a sentence) ends a paragraph.
    lines = [line.strip() for page in pages for line in page.split("\n")]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        heading = len(line.split()) <= 6 and line[:1].isupper() and not line.endswith((".", "?", "!", ":", ","))
        if heading and current:
            paragraphs.append(" ".join(current))
            current = []
        if line:
            current.append(line)
        if current and (heading or not line or line.endswith((".", "?", "!", ":"))):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return meta, "\n\n".join(paragraphs)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        raise BadDocument("not UTF-8 text") from None


def load_document(path: Path, doc_id: str) -> Document:
    """One file as a Document; BadDocument when it cannot be read or holds no text."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadDocument(f"cannot read ({type(exc).__name__})") from None
    if size > MAX_FILE_BYTES:
        raise BadDocument(f"larger than {MAX_FILE_BYTES >> 20} MB")
    suffix = path.suffix.lower()
    meta: dict[str, str] = {}
    title = ""
    asset_type = "web"
    try:
        if suffix in PDF:
            asset_type = "pdf"
            meta, text = _pdf(path)
        elif suffix in HTML:
            page: HtmlPage = parse_html(_read_text(path))
            title, text = page.title, page.text
            meta = {"link": page.canonical, "description": page.description, "tags": page.keywords}
        else:
            meta, body = split_front_matter(_read_text(path))
            title, text = _markdown(body) if suffix in MARKDOWN else ("", _paragraphs(body.split("\n")))
    except OSError as exc:
        raise BadDocument(f"cannot read ({type(exc).__name__})") from None
    if not text.strip():
        raise BadDocument("no text")
    title = meta.get("title") or title or text.strip().split("\n", 1)[0][:120].strip() or path.stem
    return Document(
        doc_id=doc_id,
        title=" ".join(title.split()),
        link=meta.get("link") or f"file:{doc_id}",
        asset_type=asset_type,
        description=" ".join(meta.get("description", "").split()) or first_sentence(text),
        tags=_tags(meta.get("tags", "")),
        text=text,
    )


def load_folder(folder: Path) -> LoadResult:
    """Every Markdown, HTML, text and PDF file under `folder`, in path order."""
    result = LoadResult()
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for path in paths:
        doc_id = path.relative_to(folder).as_posix()
        try:
            result.documents.append(load_document(path, doc_id))
        except BadDocument as exc:
            log.warning("skipped a knowledge-base file", extra={"doc_id": doc_id, "reason": str(exc)})
            result.skipped.append((doc_id, str(exc)))
    return result
