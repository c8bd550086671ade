"""Article text (`fetch_article`): the linked page of a new entry on a topic is fetched once,
its main text extracted in a parser worker and matched; through the extractor, the real CLI
and the real pipeline against article pages on the loopback feed server."""

from __future__ import annotations

import html
import ipaddress
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer, huge_body, status
from helpers import BASE_TIME, write_rules
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.eventlog.queries.feeds import feed_states
from monitor.eventlog.store import Store
from monitor.feeds import feed_list
from monitor.feeds.article import extract_article
from monitor.feeds.fetch import Fetcher, FetchPolicy
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.records import ArticleFailed, ArticleText
from monitor.poll.pipeline import Pipeline, PollPolicy
from monitor.rules.matcher import load_ruleset

runner = CliRunner()
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


# --- through the CLI and the pipeline ------------------------------------------------


def feed(items: list[tuple[str, str, str]]) -> str:
    """RSS with (guid, title, link) items and no description: the page holds the text."""
    rows = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>{html.escape(link)}</link>"
        f"<pubDate>{BASE_TIME.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for guid, title, link in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Press</title>'
        f"<link>http://127.0.0.1/</link><description>t</description>{rows}</channel></rss>"
    )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_target: Path | str) -> Path:
    monkeypatch.chdir(tmp_path)
    rules = write_rules(tmp_path / "rules")
    (rules / "police-course.yaml").write_text(COURSE_RULE, encoding="utf-8")
    monkeypatch.setenv("MONITOR_DB", str(log_target))
    monkeypatch.setenv("MONITOR_RULES", str(rules))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    monkeypatch.setenv("MONITOR_MIN_INTERVAL", "1s")
    monkeypatch.setenv("MONITOR_MAX_BODY", "1MB")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def entries_seen(limit: int = 50) -> dict[str, dict[str, object]]:
    lines = invoke("events", "--type", "EntrySeen", "--json", "--limit", str(limit))[1]
    seen = [json.loads(line)["data"] for line in lines.splitlines()]
    return {str(data["title"]): data for data in seen}


def serve_articles(server: FeedServer) -> dict[str, str]:
    return {
        "rsipf": server.serve_file("/a/rsipf.html", ARTICLES / "rsipf-release.html"),
        "mps": server.serve_file("/a/mps.html", ARTICLES / "mps-article.html"),
        "news": server.serve_file("/a/news.html", ARTICLES / "news-article.html"),
        "gone": server.respond("/a/gone.html", status(404)),
        "huge": server.respond("/a/huge.html", huge_body(3 * 1024 * 1024)),
        "list": server.serve_file("/a/list.html", PAGES / "mps-list.html"),
    }


def test_new_entries_on_a_topic_are_read_on_their_pages_and_matched(
    env: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    pages = serve_articles(feed_server)
    old = ("g0", "Police statement on the festive season", pages["rsipf"])
    url = feed_server.serve("/press.xml", feed([old]))
    code, output = invoke("feeds", "add", url, "--fetch-article")
    assert code == 0, output
    assert invoke("run", "--once")[0] == 0
    assert feed_server.hits("/a/rsipf.html") == 0  # never for backlog

    fresh = [
        ("g1", "RSIPF statement on police work", pages["rsipf"]),
        ("g2", "公安部工作动态", pages["mps"]),
        ("g3", "Tonga election date set", pages["news"]),  # no topic word: not fetched
        ("g4", "Police statement withdrawn", pages["gone"]),
        ("g5", "Police photo gallery", pages["huge"]),
        ("g6", "Police news list", pages["list"]),
    ]
    feed_server.serve("/press.xml", feed([*fresh, old]))
    code, output = invoke("run", "--once")
    assert code == 0, output
    assert "RSIPF statement on police work" in output and "公安部工作动态" in output  # alerts
    hits = {name: feed_server.hits(f"/a/{name}.html") for name in pages}
    assert hits == {"rsipf": 1, "mps": 1, "news": 0, "gone": 1, "huge": 1, "list": 1}

    seen = entries_seen()
    rsipf = str(seen["RSIPF statement on police work"]["content"])
    assert rsipf.startswith("Forty officers of the Royal Solomon Islands Police Force")
    assert "Recent Posts" not in rsipf
    assert "培训班" in str(seen["公安部工作动态"]["content"])
    for failed in ("Police statement withdrawn", "Police photo gallery", "Police news list"):
        assert seen[failed]["content"] == ""  # stored as the feed gave it
    assert "failed=not-found" in caplog.text and "failed=too-large" in caplog.text
    assert "failed=no-text" in caplog.text

    matched = invoke("events", "--type", "RuleMatched", "--json")[1].splitlines()
    course = [json.loads(line)["data"] for line in matched]
    assert {m["rule_id"] for m in course} == {"police-course"}
    assert len(course) == 2 and all(any(s[0] == "content" for s in m["spans"]) for m in course)
    code, output = invoke("search", "Rove Police Headquarters", "--json")
    assert code == 0 and "RSIPF statement on police work" in output, output
    assert "Tonga" not in output
    assert invoke("replay", "--check")[0] == 0


def test_feeds_set_turns_it_off_and_on_and_opml_keeps_it(
    env: Path, feed_server: FeedServer
) -> None:
    pages = serve_articles(feed_server)
    url = feed_server.serve("/press.xml", feed([("g0", "Old", pages["news"])]))
    assert invoke("feeds", "add", url)[0] == 0
    [row] = json.loads(invoke("feeds", "list", "--json")[1])
    assert row["fetch_article"] == 0
    assert invoke("run", "--once")[0] == 0
    feed_server.serve("/press.xml", feed([("g1", "Police statement", pages["rsipf"])]))
    assert invoke("run", "--once")[0] == 0
    assert feed_server.hits("/a/rsipf.html") == 0  # not asked for

    code, output = invoke("feeds", "set", row["id"][:6], "--fetch-article", "on")
    assert code == 0 and f"feed {row['id']}: article text on" in output, output
    assert "already" in invoke("feeds", "set", url, "--fetch-article", "on")[1]
    feed_server.serve("/press.xml", feed([("g2", "Police update", pages["mps"])]))
    assert invoke("run", "--once")[0] == 0
    assert feed_server.hits("/a/mps.html") == 1

    exported = invoke("feeds", "export")[1]
    assert 'monitor:fetchArticle="true"' in exported
    opml = env / "feeds.opml"
    opml.write_text(exported, encoding="utf-8")
    code, output = invoke("feeds", "set", row["id"], "--fetch-article", "off")
    assert code == 0 and "article text off" in output
    assert json.loads(invoke("feeds", "list", "--json")[1])[0]["fetch_article"] == 0
    assert invoke("feeds", "remove", row["id"])[0] == 0
    assert invoke("feeds", "import", str(opml))[0] == 0
    assert json.loads(invoke("feeds", "list", "--json")[1])[0]["fetch_article"] == 1
    assert invoke("replay", "--check")[0] == 0


def test_feeds_set_refuses_a_bad_value_naming_the_option(env: Path) -> None:
    assert invoke("feeds", "add", "https://example.org/rss.xml", "--no-check")[0] == 0
    code, output = invoke("feeds", "set", "https://example.org/rss.xml", "--fetch-article", "yes")
    assert code == 2 and "--fetch-article 'yes': give on or off" in output
    code, output = invoke("feeds", "set", "https://example.org/rss.xml")
    assert code == 2 and "give --fetch-article on" in output


async def test_an_untrusted_feeds_article_link_to_a_private_address_is_never_fetched(
    tmp_path: Path, feed_server: FeedServer, log_target: Path | str
) -> None:
    rules = write_rules(tmp_path / "rules")
    (rules / "police-course.yaml").write_text(COURSE_RULE, encoding="utf-8")
    ruleset = load_ruleset(rules)
    inside = feed_server.serve_file("/a/rsipf.html", ARTICLES / "rsipf-release.html")
    private = inside.replace("127.0.0.1", "127.0.0.2")
    url = feed_server.serve("/press.xml", feed([("g0", "Old", inside)]))
    with Store(log_target) as store:
        feed_list.add_feed(store, url, origin="telegram:42", fetch_article=True)
    # 127.0.0.1 plays a public host, as in test_ssrf; 127.0.0.2 is the private one.
    public = ipaddress.ip_address("127.0.0.1")
    fetcher = Fetcher(FetchPolicy(timeout_s=5), address_allowed=lambda ip: ip == public)
    async with fetcher, ParserPool(1, 20.0) as parser:
        with Store(log_target) as store:
            pipeline = Pipeline(store, fetcher, parser, lambda: ruleset, policy=PollPolicy())
            [state] = feed_states(store)
            await pipeline.poll(state)
            feed_server.serve(
                "/press.xml",
                feed([("g1", "Police statement", private), ("g2", "Police news", inside)]),
            )
            [state] = feed_states(store)
            outcome = await pipeline.poll(state)
    assert outcome.new_entries == 2
    assert feed_server.hits("/a/rsipf.html") == 1  # the public link; the private one refused
    with Store(log_target) as store:
        contents = dict(store.db.execute("SELECT title, content FROM entries").fetchall())
    assert contents["Police statement"] == ""
    assert contents["Police news"].startswith("Forty officers")


def test_watch_add_takes_fetch_article(env: Path) -> None:
    code, output = invoke(
        "watch", "add", "https://example.org/news/", "--fetch-article", "--no-check"
    )
    assert code == 0, output
    [row] = json.loads(invoke("feeds", "list", "--json")[1])
    assert (row["kind"], row["fetch_article"]) == ("page", 1)
