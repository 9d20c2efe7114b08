"""HTML the product renders from user text (e-mail): escaped, only safe links (case 5 in docs/security.md)."""
from __future__ import annotations

import pytest

from messenger.security.html import sanitize_html
from messenger.security.html import text_to_html


def test_plain_text_becomes_paragraphs_line_breaks_and_links():
    text = "Hi Anna,\nsee https://example.com/help?a=1&b=2.\n\nThanks <3"
    assert text_to_html(text) == (
        '<p>Hi Anna,<br>\nsee <a href="https://example.com/help?a=1&amp;b=2" rel="noopener noreferrer nofollow">'
        'https://example.com/help?a=1&amp;b=2</a>.</p>\n<p>Thanks &lt;3</p>')


@pytest.mark.parametrize("text", [
    '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "{{constructor.constructor('alert(1)')()}}",
    "javascript:alert(1)", "[x](javascript:alert(1))", "data:text/html,<script>alert(1)</script>",
])
def test_markup_and_dangerous_schemes_in_text_stay_text(text):
    out = text_to_html(text)
    assert "<script" not in out and "<img" not in out and "href" not in out
    assert "&lt;" in out or "<" not in text


def test_mailto_links_and_empty_text():
    assert 'href="mailto:help@example.com"' in text_to_html("write to mailto:help@example.com")
    assert text_to_html("  \n\n ") == ""


@pytest.mark.parametrize("fragment, expected", [
    ('<p onclick="x()">Hi <b>there</b></p>', "<p>Hi <b>there</b></p>"),
    ("<script>alert(1)</script>ok", "ok"),
    ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
    ('<a href="vbscript:msgbox(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
    ('<a href="https://example.com">x</a>', '<a href="https://example.com" rel="noopener noreferrer nofollow">x</a>'),
    ('<svg><use href="http://evil/x.svg#a"/></svg><iframe src="https://evil"></iframe>', ""),
    ("<style>body{}</style><!-- c --><em>e</em>", "<em>e</em>"),
])
def test_sanitize_html_keeps_only_the_allowlist(fragment, expected):
    assert sanitize_html(fragment) == expected
