"""The seed page watches (seeds/watches.opml): each one's selectors read a fixture page that
follows the structure seeds/README.md documents for it, and the real CLI imports them and
reads one through the loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import write_rules
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.feeds.opml import Outline, read_opml
from monitor.feeds.records import FeedData
from monitor.feeds.sources import parse_source

ROOT = Path(__file__).resolve().parents[1]
WATCHES = ROOT / "seeds" / "watches.opml"
PAGES = ROOT / "tests" / "data" / "pages"
FIXTURES = {  # the fixture that follows each watch's documented structure
    "www.mps.gov.cn": "mps-list.html",
    "www.mfa.gov.cn": "mfa-list1.html",
    "www.rsipf.gov.sb": "rsipf-news.html",
}
runner = CliRunner()


def fixture_for(url: str) -> bytes:
    host = url.split("/")[2]
    return (PAGES / FIXTURES[host]).read_bytes()


def test_there_are_at_least_five_watches_of_official_pages() -> None:
    outlines = read_opml(WATCHES)
    assert len(outlines) >= 5
    assert all(o.kind == "page" and o.selectors and o.selectors.item for o in outlines)
    assert {o.url.split("/")[2] for o in outlines} == set(FIXTURES)


@pytest.mark.parametrize("outline", read_opml(WATCHES), ids=lambda o: o.title)
def test_each_watch_reads_its_documented_structure(outline: Outline) -> None:
    page = parse_source(
        fixture_for(outline.url), outline.url, "text/html", "page", outline.selectors
    )
    assert isinstance(page, FeedData), page
    assert len(page.entries) >= 3
    host = outline.url.split("/")[2]
    assert all(e.link and e.link.startswith(f"https://{host}/") for e in page.entries)
    assert all(e.title and "下一页" not in e.title for e in page.entries)
    if host != "www.rsipf.gov.sb":  # its list prints "Sep 12", without a year: undated
        assert all(e.published is not None for e in page.entries)


def test_mps_links_resolve_against_the_list_page() -> None:
    [outline, *_] = read_opml(WATCHES)
    page = parse_source(
        fixture_for(outline.url), outline.url, "text/html", "page", outline.selectors
    )
    assert isinstance(page, FeedData)
    assert page.entries[0].link == "https://www.mps.gov.cn/n2254098/n4904352/c10500001/content.html"
    assert page.entries[0].title.startswith("公安部举办2024年国际执法合作培训班")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "log.db"))
    monkeypatch.setenv("MONITOR_RULES", str(write_rules(tmp_path / "rules")))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return tmp_path


def test_the_watches_import_with_their_selectors_and_test_on_loopback(
    env: Path, feed_server: FeedServer
) -> None:
    result = runner.invoke(app, ["feeds", "import", str(WATCHES)])
    assert result.exit_code == 0, result.output
    rows = json.loads(runner.invoke(app, ["feeds", "list", "--json"]).output)
    assert len(rows) == 5 and {r["kind"] for r in rows} == {"page"}
    exported = runner.invoke(app, ["feeds", "export"]).output
    assert 'monitor:item=".list li"' in exported and 'monitor:date="span"' in exported
    url = feed_server.serve(
        "/n2254098/n4904352/index.html",
        fixture_for("https://www.mps.gov.cn/"),
        "text/html; charset=utf-8",
    )
    result = runner.invoke(app, ["watch", "test", url, "--item", ".list li", "--date", "span"])
    assert result.exit_code == 0, result.output
    assert "5 entries (item selector '.list li')" in result.output
    assert "2024-09-12  公安部举办2024年国际执法合作培训班" in result.output
