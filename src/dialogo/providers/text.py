"""Text helpers shared by providers."""

from __future__ import annotations

import html.parser
import re


class _TextExtractor(html.parser.HTMLParser):
    """The visible text of an HTML fragment: tags dropped, entities decoded, blocks spaced."""

    _BLOCKS = frozenset(
        {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
         "blockquote", "pre", "hr", "table", "section", "article", "figure", "figcaption"}
    )  # fmt: skip
    _HIDDEN = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS or tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:  # not "br": <br/> ends where it starts
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text from an HTML fragment (feeds, Mastodon statuses) or from plain text, which it
    leaves as it is: entities decoded, scripts and styles dropped, one line per line break,
    a blank line between blocks, runs of spaces collapsed. Links keep their full text (Mastodon
    only hides parts of long addresses with CSS)."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    text = "".join(extractor.parts)
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
