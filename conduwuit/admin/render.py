"""The bot's replies: Markdown-ish text to an m.notice with plain and HTML bodies.

Only what the commands produce is understood: fenced code blocks (lists) and
inline code; everything else is escaped. Long output is cut at a line boundary
with a note, so a reply always fits in one event.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

#: Well under the 65,536-byte PDU limit, with room for both bodies.
MAX_BODY_CHARS = 24_000
TRUNCATED = "\n… (output truncated)"

_INLINE_CODE = re.compile(r"`([^`\n]+)`")


def code_block(lines: Iterable[str]) -> str:
    body = "\n".join(line.replace("```", "'''") for line in lines)
    return f"```\n{body}\n```"


def truncate(text: str, limit: int = MAX_BODY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    kept = text[: cut if cut > 0 else limit]
    if kept.count("```") % 2 == 1:
        kept += "\n```"
    return kept + TRUNCATED


def to_html(text: str) -> str:
    out: list[str] = []
    parts = text.split("```")
    for i, part in enumerate(parts):
        if i % 2 == 1:
            out.append(f"<pre><code>{html.escape(part.strip(chr(10)))}</code></pre>")
            continue
        escaped = html.escape(part)
        escaped = _INLINE_CODE.sub(r"<code>\1</code>", escaped)
        out.append(escaped.strip("\n").replace("\n", "<br>"))
    return "".join(out)


def notice(text: str) -> dict[str, Any]:
    text = truncate(text)
    return {
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": to_html(text),
    }
