"""OpenGraph data of an HTML page, for URL previews: decoding and parsing, no I/O.

Spec: client-server-api GET /_matrix/client/v1/media/preview_url answers the page's
OpenGraph data (https://ogp.me/). The page is parsed with the standard library's
HTML parser (a tolerant tokenizer, no regular expressions over markup):

- ``<meta property="og:...">`` (or ``name="og:..."``, which pages also use), first
  occurrence of each key;
- fallbacks when the page has no such tag: ``og:title`` from ``twitter:title`` or
  ``<title>`` (not an SVG's), ``og:description`` from ``twitter:description`` or
  ``<meta name="description">``, ``og:image`` from ``twitter:image``;
- ``og:image`` resolved against ``<base href>`` and the page's URL; only http(s).

Charset: a byte order mark, else the Content-Type header's charset, else a
``<meta charset>`` / ``http-equiv`` declaration in the first 1024 bytes, else UTF-8
(as the HTML standard's encoding sniffing, simplified); undecodable bytes become
U+FFFD.
"""

from __future__ import annotations

import codecs
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

#: Bounds on what one page may put into a preview.
MAX_KEYS = 64
MAX_VALUE_CHARS = 2000
PRESCAN_BYTES = 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: WHATWG: these labels mean windows-1252.
_LATIN1 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii", "l1"}


def charset_of_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _LATIN1:
        return "cp1252"
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A page cannot declare itself UTF-16 in ASCII-compatible bytes (HTML standard).
    return "utf-8" if name.startswith("utf-16") else name


class _CharsetScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charset: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta" or self.charset:
            return
        values = {name: value or "" for name, value in attrs}
        if values.get("charset"):
            self.charset = values["charset"]
        elif values.get("http-equiv", "").lower() == "content-type":
            self.charset = charset_of_content_type(values.get("content"))


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """``body`` as text, by the BOM, the header's charset, a meta tag, or UTF-8."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    codec = _codec(header_charset)
    if codec is None:
        scanner = _CharsetScanner()
        scanner.feed(body[:PRESCAN_BYTES].decode("latin-1"))
        codec = _codec(scanner.charset)
    return body.decode(codec or "utf-8", errors="replace")


def _clean(value: str) -> str:
    return " ".join(value.split())[:MAX_VALUE_CHARS]


class _OpenGraphParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.og: dict[str, str] = {}
        self.fallback: dict[str, str] = {}
        self.base: str | None = None
        self._title: list[str] | None = None
        self._title_chars = 0
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self._svg_depth += 1
        elif tag == "meta":
            self._meta({name: value for name, value in attrs if value is not None})
        elif tag == "title" and not self._svg_depth and "title" not in self.fallback:
            self._title = []
        elif tag == "base" and self.base is None:
            href = dict(attrs).get("href")
            if href:
                self.base = href.strip()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "svg":  # <svg/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svg_depth:
            self._svg_depth -= 1
        elif tag == "title" and self._title is not None:
            title = _clean("".join(self._title))
            if title:
                self.fallback["title"] = title
            self._title = None

    def handle_data(self, data: str) -> None:
        if self._title is not None and self._title_chars < MAX_VALUE_CHARS:
            self._title.append(data)
            self._title_chars += len(data)

    def _meta(self, values: dict[str, str]) -> None:
        key = (values.get("property") or values.get("name") or "").strip().lower()
        content = values.get("content")
        if not key or content is None:
            return
        if key.startswith("og:"):
            if key not in self.og and len(self.og) < MAX_KEYS:
                self.og[key] = _clean(content)
        elif key in ("description", "twitter:title", "twitter:description", "twitter:image"):
            self.fallback.setdefault(key, _clean(content))


def parse_opengraph(html: str, url: str) -> dict[str, str]:
    """The OpenGraph data of the page ``html`` fetched from ``url`` (after redirects),
    with the fallbacks above; ``og:image`` is an absolute http(s) URL or absent."""
    parser = _OpenGraphParser()
    parser.feed(html)
    parser.close()
    og = {key: value for key, value in parser.og.items() if value}
    fallback = parser.fallback
    for key, sources in (
        ("og:title", ("twitter:title", "title")),
        ("og:description", ("twitter:description", "description")),
        ("og:image", ("twitter:image",)),
    ):
        if key not in og:
            for source in sources:
                if fallback.get(source):
                    og[key] = fallback[source]
                    break
    image = og.pop("og:image", None)
    if image:
        base = urljoin(url, parser.base) if parser.base else url
        try:
            absolute = urljoin(base, image)
            scheme = urlsplit(absolute).scheme.lower()
        except ValueError:
            scheme = ""
        if scheme in ("http", "https"):
            og["og:image"] = absolute
    return og
