"""Page watches: time to read a listing page with lxml + cssselect (what the monitor uses)
and with selectolax (measured for the choice; not a dependency).

    .venv/bin/python bench/pages.py [--items 60] [--rounds 200]

Prints milliseconds per page for parsing + selecting items, titles, links and dates, and
for the monitor's whole parse_page (dates, keys, caps included). selectolax is optional:
without it, its line is skipped.
"""

from __future__ import annotations

import argparse
import time

import lxml.html

from monitor.eventlog.events import PageSelectors
from monitor.feeds.pages import parse_page


def page(items: int) -> bytes:
    menu = "".join(f'<li><a href="/s{n}/">栏目 {n}</a></li>' for n in range(300))
    rows = "".join(
        f'<li class="item"><a href="./n{n}/c{n}.html" title="公安部国际执法合作{n}">'
        f"公安部国际执法合作新闻第{n}条</a><span>2024-09-{n % 28 + 1:02d}</span></li>"
        for n in range(items)
    )
    filler = "<p>" + "说明文字。" * 2000 + "</p>"
    return (
        f'<html><head><meta charset="utf-8"><title>新闻</title></head><body><ul>{menu}</ul>'
        f'<div class="list"><ul>{rows}</ul></div>{filler}</body></html>'
    ).encode()


def with_lxml(body: bytes) -> int:
    root = lxml.html.document_fromstring(body.decode())
    found = 0
    for item in root.cssselect("div.list li.item"):
        anchor = item.cssselect("a")[0]
        found += bool(anchor.text_content() and anchor.get("href") and item.cssselect("span"))
    return found


def with_selectolax(body: bytes) -> int:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body.decode())
    found = 0
    for item in tree.css("div.list li.item"):
        anchor = item.css_first("a")
        found += bool(anchor and anchor.text() and anchor.attributes.get("href"))
    return found


def timed(label: str, run: object, body: bytes, rounds: int) -> None:
    assert callable(run)
    start = time.perf_counter()
    for _ in range(rounds):
        run(body)
    print(f"{label:<28} {(time.perf_counter() - start) / rounds * 1000:7.2f} ms/page")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    body = page(args.items)
    print(f"page: {len(body):,} bytes, {args.items} items")
    timed("lxml + cssselect", with_lxml, body, args.rounds)
    try:
        timed("selectolax (lexbor)", with_selectolax, body, args.rounds)
    except ImportError:
        print("selectolax (lexbor)          not installed: skipped")
    chosen = PageSelectors(item="div.list li.item", date="span")
    timed(
        "parse_page (selectors)",
        lambda b: parse_page(b, "https://x.cn/", None, chosen),
        body,
        args.rounds,
    )
    auto = PageSelectors()
    timed(
        "parse_page (automatic)",
        lambda b: parse_page(b, "https://x.cn/", None, auto),
        body,
        max(args.rounds // 10, 1),
    )


if __name__ == "__main__":
    main()
