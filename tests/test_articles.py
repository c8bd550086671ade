"""Article text: the main text of an entry's linked page, extracted from article pages in the
layouts of the sources the monitor reads."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from helpers import write_rules

from monitor.feeds.article import ArticleFailed, ArticleText, extract_article
from monitor.rules.matcher import load_ruleset

ARTICLES = Path(__file__).parent / "data" / "articles"
PAGES = Path(__file__).parent / "data" / "pages"
TOKEN = re.compile(r"[A-Za-z0-9]+|[\u3400-\u9fff]")

# Two blocks: a title with only "police" (or 公安) touches the topic but does not match;
# the article's "public order management course" (or 培训班) makes it hold.
COURSE_RULE = """\
id: police-course
title: Police courses (article test rule)
level: high
detection:
  police:
    keywords: [police, 公安]
  course:
    keywords: [public order management course, 培训班]
  helper:
    keywords: [with]
  near_helper:
    near: {blocks: [helper, course], within: 3}
  off_topic:
    keywords: [election]
condition: police and (course or near_helper) and not off_topic
"""

# --- the extractor, on article pages written in the layouts of the sources watched ----


def tokens(text: str) -> Counter[str]:
    return Counter(t.lower() for t in TOKEN.findall(text))


@pytest.mark.parametrize("page", sorted(p.stem for p in ARTICLES.glob("*.html")))
def test_the_extractor_keeps_the_article_and_leaves_the_page_around_it(page: str) -> None:
    body = (ARTICLES / f"{page}.html").read_bytes()
    result = extract_article(body, f"https://www.example.org/{page}.html", "text/html")
    assert isinstance(result, ArticleText), result
    gold = tokens((ARTICLES / f"{page}.txt").read_text(encoding="utf-8"))
    allowed = gold + tokens((ARTICLES / f"{page}.extra.txt").read_text(encoding="utf-8"))
    found = tokens(result.text)
    recall = (found & gold).total() / gold.total()
    precision = (found & allowed).total() / found.total()
    assert recall >= 0.95 and precision >= 0.9, (recall, precision, result.text)


def test_sidebars_related_links_and_menus_are_left_out() -> None:
    body = (ARTICLES / "rsipf-release.html").read_bytes()
    result = extract_article(body, "https://www.rsipf.gov.sb/2024/09/11/x/", None)
    assert isinstance(result, ArticleText)
    assert result.text.startswith("Forty officers of the Royal Solomon Islands Police Force")
    for noise in ("Recent Posts", "Police training cooperation with China to continue", "Leave"):
        assert noise not in result.text
    chinese = extract_article((ARTICLES / "mps-article.html").read_bytes(), "https://x/", None)
    assert isinstance(chinese, ArticleText)
    assert "公安部将继续为发展中国家培训执法人员" in chinese.text
    assert "相关链接" not in chinese.text and "京ICP备" not in chinese.text


def test_a_listing_a_pdf_or_an_empty_page_is_no_article() -> None:
    listing = extract_article((PAGES / "mps-list.html").read_bytes(), "https://x/list", None)
    assert isinstance(listing, ArticleFailed) and listing.kind == "no-text", listing
    pdf = extract_article(b"%PDF-1.7 ...", "https://x/a.pdf", "application/pdf")
    assert pdf == ArticleFailed("not-html", "https://x/a.pdf is not an HTML page (application/pdf)")
    empty = extract_article(b"", "https://x/a", "text/html")
    assert isinstance(empty, ArticleFailed) and "https://x/a" in empty.detail


def test_topic_words_are_the_words_a_condition_names_not_helpers_or_negations(
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules")
    (rules / "police-course.yaml").write_text(COURSE_RULE, encoding="utf-8")
    ruleset = load_ruleset(rules)
    assert ruleset.topic_words("Police statement", "") == ("Police",)
    assert ruleset.topic_words("公安部工作动态", "") == ("公安",)
    assert ruleset.topic_words("Talks with Tonga", "") == ()  # a near block's helper word
    assert ruleset.topic_words("Tonga election date set", "") == ()  # a block under `not`
