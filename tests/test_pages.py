"""Page watches: HTML listing pages read as entries by selectors or automatically, through
the parser, the real CLI (`watch test`, `watch add`, `run --once`) and the pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import cli_environment, invoke

from monitor.eventlog.events import PageSelectors
from monitor.feeds.pages import MAX_ITEMS, parse_page
from monitor.feeds.records import FeedData, ParseFailed

HTML = "text/html; charset=utf-8"
BASE = "https://www.example.gov.cn/news/"


def listing(items: list[tuple[str, str, str]], nav: bool = True) -> str:
    """A ministry-style list: (href, title, date) per <li>, a menu of undated links above."""
    menu = "".join(f'<li><a href="/s{n}/">Section {n}</a></li>' for n in range(6)) if nav else ""
    rows = "".join(
        f'<li class="item"><a href="{href}" title="{title}">{title}</a><span>{date}</span></li>'
        for href, title, date in items
    )
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>新闻</title></head>'
        f'<body><ul class="menu">{menu}</ul><div class="list" id="news"><ul>{rows}</ul></div>'
        '<a href="index_2.html">下一页</a></body></html>'
    )


ITEMS = [
    ("./n1/c1.html", "公安部举办国际执法合作培训班", "2024年9月10日"),
    ("/n2/c2.html", "Police training for Pacific officers", "10 Sep 2024"),
    ("javascript:void(0)", "A link to nowhere", "2024-09-08"),
    ("https://other.example.org/c4.html", "第四条", "2024-09-07"),
]


def parse(body: str, selectors: PageSelectors) -> FeedData:
    result = parse_page(body.encode(), BASE, HTML, selectors)
    assert isinstance(result, FeedData), result
    return result


def test_selectors_read_titles_links_and_dates_in_both_languages() -> None:
    page = parse(listing(ITEMS), PageSelectors(item="div.list li", date="span"))
    assert [e.title for e in page.entries] == [t for _, t, _ in ITEMS if "nowhere" not in t]
    first, second, fourth = page.entries
    assert first.link == "https://www.example.gov.cn/news/n1/c1.html"
    assert second.link == "https://www.example.gov.cn/n2/c2.html"
    assert fourth.link == "https://other.example.org/c4.html"
    assert first.published == datetime(2024, 9, 10, tzinfo=UTC)
    assert second.published == datetime(2024, 9, 10, tzinfo=UTC)
    assert first.lang == "zh-cn"


def test_the_automatic_mode_finds_the_dated_list_not_the_menu() -> None:
    page = parse(listing(ITEMS), PageSelectors())
    assert [e.title for e in page.entries][:2] == [ITEMS[0][1], ITEMS[1][1]]
    assert not any(e.title.startswith("Section") for e in page.entries)


def test_xpath_selectors() -> None:
    chosen = PageSelectors(
        item="//div[@id='news']//li", title="./a/@title", date="./span/text()", xpath=True
    )
    page = parse(listing(ITEMS), chosen)
    assert page.entries[0].title == ITEMS[0][1]
    assert page.entries[0].published == datetime(2024, 9, 10, tzinfo=UTC)


def test_selectors_that_match_nothing_are_a_failure_not_silence() -> None:
    result = parse_page(listing(ITEMS).encode(), BASE, HTML, PageSelectors(item="table tr"))
    assert isinstance(result, ParseFailed) and result.kind == "selectors-empty"
    assert "'table tr' (0 matches)" in result.detail
    auto = parse_page(listing([], nav=True).encode(), BASE, HTML, PageSelectors())
    assert isinstance(auto, ParseFailed) and auto.kind == "selectors-empty"


def test_a_huge_list_is_cut_and_pagination_is_not_followed() -> None:
    many = [(f"/c{n}.html", f"Item {n}", "2024-01-02") for n in range(MAX_ITEMS + 50)]
    page = parse(listing(many), PageSelectors(item="li.item"))
    assert len(page.entries) == MAX_ITEMS
    assert "first 200 kept" in page.warnings[0]


def test_gbk_pages_are_decoded_by_their_meta_charset() -> None:
    body = listing(ITEMS).replace('charset="utf-8"', 'charset="gb2312"').encode("gb18030")
    result = parse_page(body, BASE, "text/html", PageSelectors(item="li.item"))
    assert isinstance(result, FeedData) and result.entries[0].title == ITEMS[0][1]


# --- through the CLI and the pipeline ------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_environment(tmp_path, monkeypatch)


def test_watch_test_prints_the_entries_and_the_selector_it_chose(
    env: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/news/", listing(ITEMS), HTML)
    code, output = invoke("watch", "test", url)
    assert code == 0, output
    assert "automatic mode chose --item 'div#news > ul > li.item'" in output
    assert "2024-09-10  公安部举办国际执法合作培训班" in output
    assert invoke("events", "--json")[1].strip() == ""  # nothing stored
    code, output = invoke("watch", "test", url, "--item", "div#news > ul > li.item")
    assert code == 0 and "3 entries (item selector" in output


def test_watch_add_then_poll_alerts_on_a_new_item_and_fails_on_a_new_layout(
    env: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/news/", listing(ITEMS[:2]), HTML)
    code, output = invoke("watch", "add", url, "--item", "li.item", "--date", "span")
    assert code == 0, output
    assert "added page watch" in output and "2 entries now" in output
    assert invoke("run", "--once")[0] == 0  # the backlog
    fresh = ("/n5/c5.html", "Ministry hosts police training course", "2024-09-12")
    feed_server.serve("/news/", listing([fresh, *ITEMS[:2]]), HTML)
    code, output = invoke("run", "--once")
    assert code == 0, output
    assert "Ministry hosts police training course" in output  # the console alert
    seen = [
        json.loads(line)
        for line in invoke("events", "--type", "EntrySeen", "--json")[1].splitlines()
    ]
    assert len(seen) == 3 and seen[0]["data"]["link"] == feed_server.url("/n5/c5.html")
    feed_server.serve(
        "/news/", "<html><body><table><tr><td>new</td></tr></table></body></html>", HTML
    )
    assert invoke("run", "--once")[0] == 0
    [failed] = [
        json.loads(line)
        for line in invoke("events", "--type", "FeedFailed", "--json")[1].splitlines()
    ]
    assert failed["data"]["kind"] == "selectors-empty"
    [row] = json.loads(invoke("feeds", "list", "--json")[1])
    assert row["kind"] == "page" and row["last_error_kind"] == "selectors-empty"
    assert invoke("replay", "--check")[0] == 0


def test_watch_add_refuses_a_bad_selector_naming_it(env: Path) -> None:
    code, output = invoke("watch", "add", "https://example.org/", "--item", "li[", "--no-check")
    assert code == 2 and "--item" in output and "'li['" in output
    code, output = invoke("watch", "add", "https://example.org/", "--date", "span", "--no-check")
    assert code == 2 and "need --item" in output


def test_watch_add_refuses_a_page_where_nothing_is_found(
    env: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/empty/", "<html><body><p>Nothing</p></body></html>", HTML)
    code, output = invoke("watch", "add", url)
    assert code == 1 and "selectors-empty" in output and "--item" in output
    assert json.loads(invoke("feeds", "list", "--json")[1]) == []
