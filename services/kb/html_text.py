"""An HTML page's text and metadata with the standard library's parser (pages are ours to ingest, not
hostile input to render, so a tolerant tokenizer is enough and no HTML package is needed)."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

# Their content is never text a reader sees.
_SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
# Each of these starts a new paragraph.
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul", "ol", "dl", "dt",
     "dd", "tr", "table", "blockquote", "pre", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "title", "form"}
)  # fmt: skip


@dataclass(frozen=True)
class HtmlPage:
    title: str
    text: str
    canonical: str
    description: str
    keywords: str


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._in_h1 = False
        self.title = ""
        self.h1 = ""
        self.canonical = ""
        self.og_url = ""
        self.description = ""
        self.keywords = ""

    def _flush(self) -> None:
        text = " ".join(" ".join(self._current).split())
        if text:
            self.paragraphs.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            name = (a.get("name") or a.get("property") or "").lower()
            if name == "description":
                self.description = a.get("content", "")
            elif name == "keywords":
                self.keywords = a.get("content", "")
            elif name == "og:url":
                self.og_url = a.get("content", "")
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split():
            self.canonical = a.get("href", "")
        if tag in _SKIP:
            self._skip_depth += 1
        if tag in _BLOCKS:
            self._flush()
        if tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in _BLOCKS:
            self._flush()
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip_depth:
            return
        if self._in_h1:
            self.h1 += data
        self._current.append(data)


def parse_html(raw: str) -> HtmlPage:
    reader = _Reader()
    reader.feed(raw)
    reader.close()
    reader._flush()
    return HtmlPage(
        title=" ".join((reader.title or reader.h1).split()),
        text="\n\n".join(reader.paragraphs),
        canonical=reader.canonical or reader.og_url,
        description=reader.description,
        keywords=reader.keywords,
    )
