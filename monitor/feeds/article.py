"""An entry's linked page read as an article: its main text, without menus, sidebars,
related links and footers (readability-lxml), as one plain line for matching and search.

Pure (bytes in, a record out), so it runs in the parser workers under their time limit;
`poll.articles` decides which entries' pages are fetched. readability is imported here and
nowhere else.

readability-lxml was chosen by measurement (docs/architecture.md, "Article text"): on the
article pages of tests/data/articles it kept the text best (F1 0.99, trafilatura 0.96),
on 181 real pages of a public benchmark the two tie (F1 0.956), and on a listing page it
keeps almost nothing where trafilatura keeps every other entry's headline.
"""

from __future__ import annotations

import logging

from monitor.feeds.pages import read_html
from monitor.feeds.records import CONTENT_LIMIT, ArticleFailed, ArticleResult, ArticleText
from monitor.feeds.text import document_head, html_to_text, looks_like_html, shorten

# Less text than this is not an article: a listing, a cookie wall, a page drawn by scripts.
MIN_ARTICLE_CHARS = 80
_HTML_TYPES = ("text/html", "application/xhtml+xml")

# readability logs its own retries and failures at INFO and above; ours say what matters.
logging.getLogger("readability").setLevel(logging.CRITICAL)


def extract_article(body: bytes, url: str, content_type: str | None = None) -> ArticleResult:
    """The main text of an HTML page, or why there is none. Never raises."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in _HTML_TYPES and not looks_like_html(document_head(body)):
        shown = media_type or "no content type"
        return ArticleFailed("not-html", f"{url} is not an HTML page ({shown})")
    root = read_html(body, content_type)
    if root is None:
        return ArticleFailed("unreadable", f"{url}: the page cannot be parsed as HTML")
    # Imported at the first article, not with the parser: every parser worker loads this
    # module, few read articles, and readability costs each about 11 MB.
    from readability import Document  # type: ignore[import-untyped]  # no type stubs published

    try:
        summary = Document(root, url=url).summary(html_partial=True)
    except Exception as exc:  # readability raises its own Unparseable, and lxml errors
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        return ArticleFailed("unreadable", f"{url}: no article found: {detail}")
    text = html_to_text(summary)
    if len(text) < MIN_ARTICLE_CHARS:
        return ArticleFailed(
            "no-text", f"{url}: {len(text)} characters of article text, under {MIN_ARTICLE_CHARS}"
        )
    return ArticleText(url, shorten(text, CONTENT_LIMIT))
