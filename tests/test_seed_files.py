"""Checks on the hand-written seed content: sample feeds, default OPML, rule evaluation data.

Standard library only, so these run even when the rest of the tree is mid-edit.
"""

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = ROOT / "tests" / "data"

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RULE_IDS = frozenset({"police-training", "security-cooperation", "global-security-initiative"})
FIELDS = frozenset({"id", "lang", "title", "summary", "labels", "note"})
CJK = re.compile(r"[\u3400-\u9fff]")
# Characters that exist only in traditional script; enough to spot a traditional item.
TRADITIONAL_ONLY = frozenset(
    "與國會為這說務劃灣門島聯邏華葉漢義學來時對見關開後內們當區應過點樣進東協議論壇組織禮際練聞"
)


@dataclass(frozen=True)
class Item:
    """One labelled example, with where it came from for error messages."""

    where: str
    id: str
    lang: str
    title: str
    summary: str
    labels: tuple[str, ...]
    note: str


def load_items(path: Path) -> list[Item]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{number}"
        assert line.strip(), f"{where}: blank line; remove it"
        raw = json.loads(line)
        assert set(raw) == FIELDS, f"{where}: fields are {sorted(raw)}, expected {sorted(FIELDS)}"
        items.append(
            Item(
                where=where,
                id=raw["id"],
                lang=raw["lang"],
                title=raw["title"],
                summary=raw["summary"],
                labels=tuple(raw["labels"]),
                note=raw["note"],
            )
        )
    return items


DEV = load_items(DATA / "rules_dev.jsonl")
HOLDOUT = load_items(DATA / "rules_holdout.jsonl")


def rss_items() -> list[ET.Element]:
    root = ET.parse(SEEDS / "sample-rss.xml").getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    return root.findall("./channel/item")


def atom_entries() -> list[ET.Element]:
    root = ET.parse(SEEDS / "sample-atom.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


def feed_outlines() -> list[ET.Element]:
    root = ET.parse(SEEDS / "feeds.opml").getroot()
    assert root.tag == "opml" and root.get("version") == "2.0"
    return [o for o in root.iter("outline") if len(o) == 0]


def test_rss_sample_has_expected_items_with_unique_guids() -> None:
    items = rss_items()
    guids = [item.findtext("guid") for item in items]
    assert len(items) == 15
    assert all(guids), "every RSS item needs a <guid>"
    assert len(set(guids)) == len(guids), f"duplicate guids: {guids}"


def test_rss_sample_dates_parse_and_fall_in_2026() -> None:
    for item in rss_items():
        text = item.findtext("pubDate") or ""
        when = parsedate_to_datetime(text)
        assert when.tzinfo is not None, f"{item.findtext('guid')}: pubDate {text!r} has no zone"
        assert when.year == 2026, f"{item.findtext('guid')}: pubDate {text!r} is not in 2026"
        weekday = text.split(",")[0]
        assert weekday == when.strftime("%a"), f"{text!r}: weekday does not match the date"


def test_rss_sample_has_titles_links_and_one_html_description() -> None:
    items = rss_items()
    for item in items:
        assert item.findtext("title"), f"{item.findtext('guid')}: empty title"
        assert urlsplit(item.findtext("link") or "").hostname == "news.example.org"
    with_markup = [i for i in items if "<p>" in (i.findtext("description") or "")]
    assert len(with_markup) == 1


def test_atom_sample_has_expected_entries_with_unique_ids() -> None:
    entries = atom_entries()
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(entries) == 16
    assert all(ids), "every Atom entry needs an <id>"
    assert len(set(ids)) == len(ids), f"duplicate ids: {ids}"


def test_atom_sample_dates_parse_and_fall_in_2026() -> None:
    for entry in atom_entries():
        for tag in ("updated", "published"):
            text = entry.findtext(f"{ATOM}{tag}") or ""
            when = datetime.fromisoformat(text)
            assert when.tzinfo is not None, f"{entry.findtext(f'{ATOM}id')}: {tag} has no zone"
            assert when.year == 2026, f"{entry.findtext(f'{ATOM}id')}: {tag} {text!r}"


def test_atom_chinese_entries_are_marked_zh_cn() -> None:
    entries = atom_entries()
    chinese = [e for e in entries if CJK.search(e.findtext(f"{ATOM}title") or "")]
    assert len(chinese) >= 3
    for entry in chinese:
        assert entry.get(XML_LANG) == "zh-CN", f"{entry.findtext(f'{ATOM}id')}: needs zh-CN"
    for entry in entries:
        link = entry.find(f"{ATOM}link")
        assert link is not None, f"{entry.findtext(f'{ATOM}id')}: needs a <link>"
        assert urlsplit(link.get("href", "")).hostname == "www.example.com"


def test_opml_has_15_to_40_distinct_http_feeds() -> None:
    outlines = feed_outlines()
    urls = [o.get("xmlUrl") or "" for o in outlines]
    assert 15 <= len(outlines) <= 40
    for outline, url in zip(outlines, urls, strict=True):
        assert urlsplit(url).scheme in ("http", "https"), f"{outline.get('text')}: {url!r}"
        assert outline.get("type") == "rss", f"{outline.get('text')}: type must be rss"
        for attribute in ("text", "title", "htmlUrl"):
            assert outline.get(attribute), f"{url}: missing {attribute}"
    duplicates = [u for u, n in Counter(urls).items() if n > 1]
    assert not duplicates, f"duplicate xmlUrl: {duplicates}"


def test_opml_includes_chinese_google_news_searches() -> None:
    urls = [o.get("xmlUrl") or "" for o in feed_outlines()]
    searches = [u for u in urls if u.startswith("https://news.google.com/rss/search?")]
    assert 5 <= len(searches) <= 8
    assert any("ceid=CN:zh-Hans" in u for u in searches)


def test_eval_ids_are_unique_across_both_files() -> None:
    ids = [item.id for item in DEV + HOLDOUT]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    assert all(item.id.startswith("dev-") for item in DEV)
    assert all(item.id.startswith("hold-") for item in HOLDOUT)


def test_eval_titles_do_not_repeat_between_dev_and_holdout() -> None:
    dev_titles = {item.title for item in DEV}
    repeated = [item.where for item in HOLDOUT if item.title in dev_titles]
    assert not repeated, f"holdout repeats dev titles at {repeated}"


@pytest.mark.parametrize("item", DEV + HOLDOUT, ids=lambda item: item.id)
def test_eval_item_is_well_formed(item: Item) -> None:
    assert item.lang in ("en", "zh"), f"{item.where}: lang must be en or zh"
    assert set(item.labels) <= RULE_IDS, f"{item.where}: unknown labels {item.labels}"
    assert len(set(item.labels)) == len(item.labels), f"{item.where}: repeated label"
    assert item.title and item.summary and item.note, f"{item.where}: empty text field"
    has_cjk = bool(CJK.search(item.title + item.summary))
    assert has_cjk == (item.lang == "zh"), f"{item.where}: lang {item.lang} does not fit text"


@pytest.mark.parametrize(
    ("items", "minimum_size", "minimum_per_rule"),
    [(DEV, 160, 30), (HOLDOUT, 90, 18)],
    ids=["dev", "holdout"],
)
def test_eval_file_proportions(items: list[Item], minimum_size: int, minimum_per_rule: int) -> None:
    per_rule = Counter(label for item in items for label in item.labels)
    chinese = [item for item in items if item.lang == "zh"]
    traditional = [i for i in chinese if TRADITIONAL_ONLY & set(i.title + i.summary)]
    negatives = [item for item in items if not item.labels]
    assert len(items) >= minimum_size
    assert len(chinese) >= 0.25 * len(items)
    assert len(traditional) >= 5
    assert len(negatives) >= 0.40 * len(items)
    assert sum(1 for item in items if len(item.labels) >= 2) >= 5
    for rule in RULE_IDS:
        assert per_rule[rule] >= minimum_per_rule, f"{rule}: only {per_rule[rule]} positives"


def test_eval_negatives_explain_themselves() -> None:
    negatives = [item for item in DEV + HOLDOUT if not item.labels]
    explained = re.compile(r"Hard negative|困[难難][负負]例")
    unexplained = [i.where for i in negatives if not explained.match(i.note)]
    assert not unexplained, f"notes of negatives must say 'Hard negative': {unexplained}"
