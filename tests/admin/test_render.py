"""Reply rendering: plain + HTML bodies, long output cut safely."""

from __future__ import annotations

from conduwuit.admin.render import MAX_BODY_CHARS, TRUNCATED, code_block, notice, to_html


def test_html_escapes_and_renders_code() -> None:
    text = "Users <b>:\n" + code_block(["@a:x <script>", "@b:x"]) + "\nuse `x & y`"
    html = to_html(text)
    assert html == (
        "Users &lt;b&gt;:<pre><code>@a:x &lt;script&gt;\n@b:x</code></pre>"
        "use <code>x &amp; y</code>"
    )


def test_long_output_is_truncated_at_a_line_and_closes_the_block() -> None:
    rows = [f"row {i:06d}" for i in range(10_000)]
    content = notice("Many:\n" + code_block(rows))
    body = content["body"]
    assert len(body) <= MAX_BODY_CHARS + len(TRUNCATED) + 4
    assert body.endswith("```" + TRUNCATED)
    assert body.count("```") == 2
    assert content["formatted_body"].count("<pre>") == 1
    assert "row 000000" in body and "row 009999" not in body


def test_code_block_cannot_be_closed_by_its_content() -> None:
    assert code_block(["a```b"]) == "```\na'''b\n```"
