"""OpenGraph parsing and charset decoding of preview pages."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conduwuit.core.opengraph import charset_of_content_type, decode_html, parse_opengraph

URL = "https://example.com/blog/post.html"


def test_opengraph_tags() -> None:
    html = """<!doctype html><html><head>
        <title>Not this</title>
        <meta property="og:title" content="Matrix Blog Post">
        <meta property="og:description" content="This is a really  cool
            blog post &amp; more">
        <meta property="og:image" content="https://cdn.example.com/a.png">
        <meta property="og:title" content="Second title is ignored">
        <meta name="og:site_name" content="Example">
        <meta property="og:type">
        </head><body></body></html>"""
    og = parse_opengraph(html, URL)
    assert og == {
        "og:title": "Matrix Blog Post",
        "og:description": "This is a really cool blog post & more",
        "og:image": "https://cdn.example.com/a.png",
        "og:site_name": "Example",
    }


def test_title_and_description_fallbacks() -> None:
    html = """<html><head><title>  The
        Title </title><meta name="description" content="Described."></head>
        <body><svg><title>an svg title</title></svg></body></html>"""
    assert parse_opengraph(html, URL) == {"og:title": "The Title", "og:description": "Described."}
    svg_first = "<svg><title>icon</title></svg><title>Page</title>"
    assert parse_opengraph(svg_first, URL) == {"og:title": "Page"}
    twitter = """<meta name="twitter:title" content="T"><meta name="twitter:image" content="/i.png">
        <title>X</title>"""
    assert parse_opengraph(twitter, URL) == {
        "og:title": "T",
        "og:image": "https://example.com/i.png",
    }


def test_relative_images_resolve_against_the_page_and_base() -> None:
    og = parse_opengraph('<meta property="og:image" content="../img/a.jpg">', URL)
    assert og["og:image"] == "https://example.com/img/a.jpg"
    og = parse_opengraph('<meta property="og:image" content="//cdn.example.net/a.jpg">', URL)
    assert og["og:image"] == "https://cdn.example.net/a.jpg"
    based = '<base href="https://static.example.org/x/"><meta property="og:image" content="a.jpg">'
    assert parse_opengraph(based, URL)["og:image"] == "https://static.example.org/x/a.jpg"
    for bad in ("javascript:alert(1)", "data:image/png;base64,AAAA", "file:///etc/passwd"):
        og = parse_opengraph(f'<meta property="og:image" content="{bad}">', URL)
        assert "og:image" not in og


def test_markup_in_scripts_and_comments_is_not_read() -> None:
    html = """<script>document.write('<meta property="og:title" content="evil">')</script>
        <!-- <meta property="og:description" content="commented"> -->
        <meta property="og:title" content="real">"""
    assert parse_opengraph(html, URL) == {"og:title": "real"}


def test_broken_and_hostile_markup_is_bounded() -> None:
    assert parse_opengraph("<html><head><meta property=og:title content=unquoted", URL) == {}
    assert parse_opengraph("", URL) == {}
    many = "".join(f'<meta property="og:k{i}" content="{i}">' for i in range(500))
    assert len(parse_opengraph(many, URL)) == 64
    long = parse_opengraph(f'<meta property="og:title" content="{"x" * 100_000}">', URL)
    assert len(long["og:title"]) == 2000


def test_charset_sources() -> None:
    text = "Café \u2013 ça marche"  # the dash is in windows-1252, not latin-1
    assert charset_of_content_type("text/html; charset=ISO-8859-1") == "ISO-8859-1"
    assert charset_of_content_type('text/html;charset="utf-8"') == "utf-8"
    assert charset_of_content_type("text/html") is None
    assert decode_html(text.encode("utf-8")) == text
    assert decode_html(text.encode("cp1252"), "iso-8859-1") == text
    meta = '<meta charset="windows-1252"><title>Café</title>'.encode("cp1252")
    assert "Café" in decode_html(meta)
    equiv = (
        '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><title>Привет</title>'
    ).encode("koi8-r")
    assert "Привет" in decode_html(equiv)
    assert decode_html(b"\xef\xbb\xbfhi", "latin-1") == "hi", "the BOM wins"
    assert decode_html("hi".encode("utf-16-le"), None) in ("h\x00i\x00", "hi")
    assert decode_html(b"caf\xe9", "no-such-charset") == "caf\ufffd"
    assert decode_html(b"\xff\xfeh\x00i\x00") == "hi"


FRAGMENTS = [
    "<meta ",
    'property="og:title" ',
    "content=",
    '"x"',
    ">",
    "<title>",
    "</title>",
    "<svg>",
    "</svg>",
    "<base href=",
    "'/b/'",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<!doctype",
    "<?",
    "<script>",
    "</script>",
    "&amp;",
    "&#",
    "&#x110000;",
    "<",
    "</",
    "=",
    "\x00",
    "é",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=40))
def test_any_markup_parses_to_strings(parts: list[str]) -> None:
    og = parse_opengraph("".join(parts), URL)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in og.items())


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=2048), st.none() | st.sampled_from(["utf-8", "latin-1", "bogus", "utf-16"])
)
def test_any_bytes_decode(body: bytes, charset: str | None) -> None:
    assert isinstance(decode_html(body, charset), str)
