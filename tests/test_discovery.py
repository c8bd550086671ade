"""`monitor feeds add` fetches the URL once: a feed is added with its title and entry count,
an HTML page offers the feeds it links, a page without one and a dead URL are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, write_rules
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.feeds.discover import inspect_document, page_links
from monitor.feeds.records import FeedData

runner = CliRunner()
HTML = "text/html; charset=utf-8"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_target: Path | str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DB", str(log_target))
    monkeypatch.setenv("MONITOR_RULES", str(write_rules(tmp_path / "rules")))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def listed() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(invoke("feeds", "list", "--json")[1])
    return rows


def news_page(links: str, title: str = "Ministry news") -> str:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{links}</head>"
        "<body><h1>News</h1><ul><li><a href='/a'>A</a></li></ul></body></html>"
    )


ALTERNATES = (
    '<link rel="alternate" type="application/rss+xml" title="All news" href="/feeds/news.xml">'
    '<link rel="stylesheet" href="/site.css">'
    '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
    '<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="atom.xml">'
)


def test_a_feed_is_added_with_its_title_and_entry_count(env: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/rss.xml", rss([("a", "One", "x"), ("b", "Two", "y")], "Daily"))
    code, output = invoke("feeds", "add", url)
    assert code == 0, output
    assert f': {url} ("Daily", 2 entries)' in output
    [row] = listed()
    assert row["title"] == "Daily"


def test_a_page_lists_the_feeds_it_links_and_adds_nothing(
    env: Path, feed_server: FeedServer
) -> None:
    page = feed_server.serve("/news/", news_page(ALTERNATES), HTML)
    code, output = invoke("feeds", "add", page)
    assert code == 1
    base = feed_server.base_url
    assert f"{base}/feeds/news.xml  All news  [application/rss+xml]" in output
    assert f"{base}/news/atom.xml  (no title)  [application/atom+xml]" in output
    assert "javascript" not in output and "site.css" not in output
    assert "--yes" in output
    assert listed() == []


def test_yes_adds_the_first_feed_the_page_links(env: Path, feed_server: FeedServer) -> None:
    page = feed_server.serve("/news/", news_page(ALTERNATES), HTML)
    feed = feed_server.serve("/feeds/news.xml", rss([("a", "One", "x")], "All news"))
    code, output = invoke("feeds", "add", page, "--yes")
    assert code == 0, output
    assert f'added feed {listed()[0]["id"]}: {feed} ("All news", 1 entries)' in output
    assert [row["url"] for row in listed()] == [feed]


def test_a_page_without_a_feed_is_refused_with_a_hint(env: Path, feed_server: FeedServer) -> None:
    page = feed_server.serve("/plain.html", news_page(""), HTML)
    code, output = invoke("feeds", "add", page)
    assert code == 1
    assert "HTML page without a feed link" in output and "--no-check" in output
    assert listed() == []


def test_a_dead_url_is_refused_naming_the_status(env: Path, feed_server: FeedServer) -> None:
    code, output = invoke("feeds", "add", feed_server.url("/missing.xml"))
    assert code == 1
    assert "HTTP 404" in output and "--no-check" in output
    assert listed() == []


def test_no_check_adds_without_a_request(env: Path, feed_server: FeedServer) -> None:
    url = feed_server.url("/later.xml")
    code, output = invoke("feeds", "add", url, "--no-check")
    assert code == 0, output
    assert feed_server.hits("/later.xml") == 0
    assert [row["url"] for row in listed()] == [url]


def test_a_duplicate_is_refused_before_any_fetch(env: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/rss.xml", rss([("a", "One", "x")]))
    assert invoke("feeds", "add", url)[0] == 0
    code, output = invoke("feeds", "add", url)
    assert code == 1 and "already monitored" in output
    assert feed_server.hits("/rss.xml") == 1


def test_page_links_follow_the_base_element_and_stay_bounded() -> None:
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="f{n}.xml">' for n in range(50)
    )
    body = news_page('<base href="https://cdn.example.org/x/">' + links).encode()
    found = page_links(body, "https://example.org/news/")
    assert found.title == "Ministry news"
    assert len(found.feeds) == 10
    assert found.feeds[0].url == "https://cdn.example.org/x/f0.xml"


def test_inspect_reads_a_feed_as_a_feed() -> None:
    found = inspect_document(rss([("a", "One", "x")]).encode(), "https://example.org/rss")
    assert isinstance(found, FeedData) and found.title == "Test feed"
