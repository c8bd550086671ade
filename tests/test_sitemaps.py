"""Sitemaps as a source: news sitemaps with titles, plain ones with lastmod, and bounded
sitemap indexes, through the parser, the real CLI (`feeds add`, `run --once`) and the
pipeline on the loopback server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import write_rules
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.feeds.records import FeedData
from monitor.feeds.sitemaps import MAX_CHILDREN, MAX_URLS, parse_sitemap

runner = CliRunner()
XML = "application/xml"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def news_sitemap(items: list[tuple[str, str, str]]) -> str:
    urls = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>MFA</news:name>"
        f"<news:language>zh</news:language></news:publication>"
        f"<news:publication_date>{when}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
        for loc, title, when in items
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS} {NEWS_NS}>{urls}</urlset>'


def plain_sitemap(items: list[tuple[str, str]]) -> str:
    urls = "".join(f"<url><loc>{loc}</loc><lastmod>{when}</lastmod></url>" for loc, when in items)
    return f'<?xml version="1.0"?><urlset {NS}>{urls}</urlset>'


def index(children: list[tuple[str, str]]) -> str:
    listed = "".join(
        f"<sitemap><loc>{loc}</loc><lastmod>{when}</lastmod></sitemap>" for loc, when in children
    )
    return f'<?xml version="1.0"?><sitemapindex {NS}>{listed}</sitemapindex>'


def parsed(body: str, url: str = "https://example.org/sitemap.xml") -> FeedData:
    result = parse_sitemap(body.encode(), url)
    assert isinstance(result, FeedData), result
    return result


def test_a_news_sitemap_gives_titles_dates_and_languages() -> None:
    page = parsed(
        news_sitemap(
            [("https://example.org/a.html", "外交部发言人答记者问", "2024-09-10T08:00:00+08:00")]
        )
    )
    [entry] = page.entries
    assert entry.title == "外交部发言人答记者问" and entry.link == "https://example.org/a.html"
    assert entry.published == datetime(2024, 9, 10, 0, 0, tzinfo=UTC)
    assert entry.lang == "zh"


def test_a_plain_sitemap_is_read_newest_first_with_titles_from_the_url() -> None:
    page = parsed(
        plain_sitemap(
            [
                ("https://example.org/2024/old-news.html", "2024-01-01"),
                ("https://example.org/2024/china-trains-pacific-police.html", "2024-09-10"),
                ("https://example.org/2024/0912/123456.html", "2024-09-12T10:00Z"),
                ("javascript:alert(1)", "2024-09-11"),
            ]
        )
    )
    assert [e.title for e in page.entries] == ["", "china trains pacific police", "old news"]
    assert page.entries[0].published == datetime(2024, 9, 12, 10, tzinfo=UTC)


def test_a_huge_sitemap_keeps_the_newest_entries() -> None:
    items = [
        (f"https://example.org/n{n}.html", f"2024-01-01T00:{n % 60:02d}:00Z")
        for n in range(MAX_URLS + 500)
    ]
    page = parsed(plain_sitemap(items))
    assert len(page.entries) == MAX_URLS and "newest 1000 kept" in page.warnings[0]


def test_an_index_of_ten_thousand_sitemaps_names_only_the_newest_few() -> None:
    children = [
        (f"https://example.org/s{n}.xml", f"2020-01-01T00:00:{n % 60:02d}Z") for n in range(10_000)
    ]
    children.append(("https://example.org/newest.xml", "2024-09-10"))
    page = parsed(index(children))
    assert (
        len(page.sitemaps) == MAX_CHILDREN and page.sitemaps[0] == "https://example.org/newest.xml"
    )
    assert page.entries == () and "newest 3 are read" in page.warnings[0]


def test_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file://{secret}">]>'
        f"<urlset {NS}><url><loc>https://example.org/&x;</loc></url></urlset>"
    )
    result = parse_sitemap(body.encode(), "https://example.org/s.xml")
    assert "TOP-SECRET" not in repr(result)


# --- through the CLI and the pipeline ------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "log.db"))
    monkeypatch.setenv("MONITOR_RULES", str(write_rules(tmp_path / "rules")))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def seen_links() -> list[str]:
    lines = invoke("events", "--type", "EntrySeen", "--json", "--limit", "1000")[1].splitlines()
    return sorted(json.loads(line)["data"]["link"] for line in lines)


def test_a_news_sitemap_is_added_and_alerts_on_a_new_url(
    env: Path, feed_server: FeedServer
) -> None:
    old = (feed_server.url("/a.html"), "Weather report", "2024-09-01")
    url = feed_server.serve("/news-sitemap.xml", news_sitemap([old]), XML)
    code, output = invoke("feeds", "add", url)
    assert code == 0, output
    assert output.startswith("added sitemap") and "1 entries" in output
    assert invoke("run", "--once")[0] == 0  # the backlog
    fresh = (
        feed_server.url("/b.html"),
        "Police training course for foreign officers",
        "2024-09-12",
    )
    feed_server.serve("/news-sitemap.xml", news_sitemap([fresh, old]), XML)
    code, output = invoke("run", "--once")
    assert code == 0 and "Police training course for foreign officers" in output


def test_an_index_reads_only_its_newest_sitemaps(env: Path, feed_server: FeedServer) -> None:
    children = []
    for n in range(5):
        path = f"/sitemap-{n}.xml"
        feed_server.serve(
            path,
            plain_sitemap([(feed_server.url(f"/p{n}/item-{n}.html"), f"2024-09-0{n + 1}")]),
            XML,
        )
        children.append((feed_server.url(path), f"2024-09-0{n + 1}"))
    url = feed_server.serve("/sitemap-index.xml", index(children), XML)
    code, output = invoke("feeds", "add", url)
    assert code == 0 and "3 sitemaps to read" in output
    assert invoke("run", "--once")[0] == 0
    assert seen_links() == [feed_server.url(f"/p{n}/item-{n}.html") for n in (2, 3, 4)]
    assert [feed_server.hits(f"/sitemap-{n}.xml") for n in range(5)] == [0, 0, 1, 1, 1]
    assert invoke("run", "--once")[0] == 0  # the index did not change: no child is fetched
    assert [feed_server.hits(f"/sitemap-{n}.xml") for n in range(5)] == [0, 0, 1, 1, 1]
