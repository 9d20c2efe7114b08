"""HTML from user text, for the few places the product renders HTML itself (e-mail bodies).

Everything the browser UIs show is text (``textContent``); this module is for server-made
HTML only. ``text_to_html`` turns plain user text into safe HTML (escaped, paragraphs and
line breaks kept, http/https/mailto URLs linked, the same rule as the widget's
``linkify``); ``sanitize_html`` cleans HTML from elsewhere with nh3 (a Rust html5ever +
ammonia binding: a real HTML parser, maintained, no regex sanitising), keeping a small
allowlist of formatting tags and only http/https/mailto links (case 5 in docs/security.md).
"""
from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = frozenset({"a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "strong", "ul"})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

_LINK = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"]+", re.IGNORECASE)
_TRAILING = re.compile(r"[.,;:!?)\]]+$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def sanitize_html(fragment: str) -> str:
    """``fragment`` with only allowlisted tags, attributes and link schemes left (scripts dropped whole)."""
    return nh3.clean(fragment, tags=set(ALLOWED_TAGS), attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
                     url_schemes=set(URL_SCHEMES), link_rel=LINK_REL, strip_comments=True,
                     clean_content_tags={"script", "style"})


def _linked(line: str) -> str:
    """One line of plain text as escaped HTML, its http/https/mailto URLs as links."""
    out, at = [], 0
    for match in _LINK.finditer(line):
        url = _TRAILING.sub("", match.group(0))
        out.append(html.escape(line[at:match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        at = match.start() + len(url)
    out.append(html.escape(line[at:]))
    return "".join(out)


def text_to_html(text: str) -> str:
    """Plain user text as safe HTML: escaped, blank lines as paragraphs, newlines as ``<br>``, URLs linked."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        return ""
    paragraphs = ("<br>\n".join(_linked(line) for line in block.split("\n"))
                  for block in _PARAGRAPH_BREAK.split(text))
    return sanitize_html("\n".join(f"<p>{p}</p>" for p in paragraphs))
