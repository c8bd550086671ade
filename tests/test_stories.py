"""Stories without a database: canonical URLs, headline and summary shingles, the joining
over JSON lines (`monitor stories group`), and its measured quality on the labelled sets
(tests/data/stories_*.jsonl; docs/stories.md has the figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stories_sets import SETS, write
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.poll.similarity import canonical_url, shingles, split_outlet
from monitor.poll.stories import StoryIndex, StoryItem, StoryPolicy, group, place_all
from monitor.poll.story_items import group_items, pairwise, read_items

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="module")
def labelled_sets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stories sets, built from the shared items (never copied into the project)."""
    if not (SHARED / "eval" / "real-items.jsonl").is_file():
        pytest.skip(f"the shared evaluation items are not at {SHARED}")
    folder = tmp_path_factory.mktemp("stories")
    for name, build in SETS.items():
        write(build(SHARED), folder / f"stories_{name}.jsonl")
    return folder


NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WIDE_OPEN = StoryPolicy(window=timedelta(days=36500))


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://www.example.com/a/b?utm_source=rss&utm_medium=x#top", "example.com/a/b"),
        ("http://m.example.com/a/b/", "example.com/a/b"),
        ("https://amp.example.com/a/b", "example.com/a/b"),
        ("https://example.com/a/b/amp", "example.com/a/b"),
        ("https://example.com/a/b.amp.html", "example.com/a/b.html"),
        ("https://example.com/view?id=7&fbclid=z&gclid=y", "example.com/view?id=7"),
        ("https://example.com/view?b=2&a=1", "example.com/view?a=1&b=2"),
        ("https://example.com:8443/x", "example.com:8443/x"),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_canonical_url_drops_what_does_not_name_the_article(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_a_search_feeds_outlet_suffix_is_split_off_but_not_a_short_headline() -> None:
    assert split_outlet("China to train 3,000 police officers - Reuters") == (
        "China to train 3,000 police officers",
        "Reuters",
    )
    assert split_outlet("Kenya - Haiti") == ("Kenya - Haiti", None)


def test_traditional_and_simplified_chinese_give_the_same_shingles() -> None:
    assert shingles("中國公安部將協助培訓3000名外國執法人員") == shingles(
        "中国公安部将协助培训3000名外国执法人员"
    )


def item(entry_id: str, title: str, summary: str = "", link: str | None = None) -> StoryItem:
    return StoryItem(entry_id, title, summary, link or f"https://example.com/{entry_id}", NOW)


WIRE = (
    "Beijing will train 3,000 police officers from developing countries over the next year,"
    " the public security minister told a forum in Lianyungang on Monday."
)


def test_a_rewrite_joins_by_summary_a_search_copy_by_headline_another_event_not() -> None:
    placed = group(
        [
            item("a", "China to train 3,000 foreign police officers", WIRE),
            item("b", "China to train 3,000 foreign police officers - Dawn", ""),
            item("c", "Beijing pledges courses for foreign police", "LIANYUNGANG (AFP) - " + WIRE),
            item(
                "d",
                "China and Laos sign police training agreement",
                "Laos will send officers"
                " to Chinese police colleges under an agreement signed in Vientiane.",
            ),
            item("e", "China to train 2,000 foreign police officers", ""),
        ]
    )
    assert [(p.story_id, p.how) for p in placed] == [
        ("a", "new"),
        ("a", "title"),
        ("a", "text"),
        ("d", "new"),
        ("e", "new"),  # the numbers differ: another report
    ]


def test_the_window_closes_a_story_to_near_duplicates_but_not_to_its_url() -> None:
    later = NOW + timedelta(hours=73)
    placed = group(
        [
            item("a", "China to train 3,000 foreign police officers", WIRE),
            StoryItem("b", "China to train 3,000 foreign police officers", WIRE, None, later),
        ]
    )
    assert [p.story_id for p in placed] == ["a", "b"]


@pytest.mark.parametrize("similar", [True, False])
def test_a_url_joins_the_oldest_story_known_or_placed_before_it(similar: bool) -> None:
    """The index holds no URL: what the caller knows (the log) and the items placed before,
    even by URL only (a feed's first poll), are where a URL finds its story."""
    article = "https://www.example.com/2026/11/02/police-training?utm_source=rss"
    known = {"example.com/other": "x"}
    placed = place_all(
        StoryIndex(),
        [
            item("a", "Rain expected in the capital over the weekend", link=article),
            item("b", "Markets close higher as exporters gain", link=article + "&fbclid=1"),
            item("c", "A third report", link="https://example.com/other"),
        ],
        known,
        similar=similar,
    )
    assert [(p.story_id, p.how) for p in placed] == [("a", "new"), ("a", "url"), ("x", "url")]
    assert known == {"example.com/other": "x", "example.com/2026/11/02/police-training": "a"}


@pytest.mark.parametrize(("most", "joined"), [(3, "a"), (2, "d")])
def test_the_index_holds_at_most_its_newest_entries(most: int, joined: str) -> None:
    """A bound on memory: the oldest entry leaves the index before its window ends."""
    policy = StoryPolicy(max_entries=most)
    headline = "China to train 3,000 foreign police officers"
    items = [
        item("a", headline, WIRE),
        item("b", "Rain expected in the capital over the weekend"),
        item("c", "Markets close higher as exporters gain on a weaker currency"),
        item("d", headline, WIRE),
    ]
    assert group(items, policy)[3].story_id == joined


def test_a_full_index_lets_go_of_entries_that_matched_no_rule_first() -> None:
    """An entry that matched a rule (it alerted) outlasts newer ones that matched none, so
    a late copy of its story joins it rather than alerting again."""
    headline = "China to train 3,000 foreign police officers"
    alerted = replace(item("a", headline, WIRE), matched=True)
    others = [
        item("b", "Rain expected in the capital over the weekend"),
        item("c", "Markets close higher as exporters gain on a weaker currency"),
        item("d", "Parliament passes the budget after a long night of votes"),
    ]
    copy = item("e", headline, WIRE)
    placed = group([alerted, *others, copy], StoryPolicy(max_entries=2))
    assert (placed[-1].story_id, placed[-1].how) == ("a", "title")
    plain = group([replace(alerted, matched=False), *others, copy], StoryPolicy(max_entries=2))
    assert plain[-1].story_id == "e"  # the oldest left first


def test_signatures_are_taken_once_and_joining_goes_on_without_them() -> None:
    """Once the log's cache holds an entry's signatures the index keeps only LSH's bands."""
    index = StoryIndex()
    headline = "China to train 3,000 foreign police officers"
    index.place(item("a", headline, WIRE), {})
    taken = index.take_signature("a")
    assert taken is not None and taken.title is not None and taken.text is not None
    assert index.take_signature("a") is None
    assert index.take_signature("unknown") is None
    copy = index.place(item("b", headline + " - Dawn", ""), {})
    assert (copy.story_id, copy.how) == ("a", "title")


@pytest.mark.parametrize(
    ("name", "precision", "recall"),
    [("dev", 0.95, 0.90), ("holdout", 0.95, 0.90)],
)
def test_joining_on_the_labelled_sets_meets_its_floors(
    labelled_sets: Path, name: str, precision: float, recall: float
) -> None:
    items = read_items(labelled_sets / f"stories_{name}.jsonl")
    score = pairwise(items, group_items(items, WIDE_OPEN))
    assert score.precision >= precision, score
    assert score.recall >= recall, score


def test_independent_reports_of_one_event_are_never_joined_to_other_events(
    labelled_sets: Path,
) -> None:
    """Reports written separately share no text: joining finds none (recall 0, see
    docs/stories.md), and must join no two different events either."""
    items = read_items(labelled_sets / "stories_events.jsonl")
    score = pairwise(items, group_items(items, WIDE_OPEN))
    assert score.precision == 1.0


def test_stories_group_prints_one_line_per_item_in_time_order(tmp_path: Path) -> None:
    lines = [
        {"id": "late", "title": "China to train 3,000 foreign police officers - Reuters",
         "summary": "", "link": "https://news.google.com/rss/articles/x",
         "published": "2026-11-02T10:00:00Z"},
        {"id": "early", "title": "China to train 3,000 foreign police officers", "summary": WIRE,
         "link": "https://example.com/a", "published": "2026-11-02"},
    ]  # fmt: skip
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    result = CliRunner().invoke(app, ["stories", "group", "--input", str(path)])

    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.splitlines()] == [
        {"id": "early", "story": "early"},
        {"id": "late", "story": "early"},
    ]


def test_a_bad_line_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": "a", "title": "x"}\n{"id": "b", "published": "last week"}\n')

    result = subprocess.run(
        [sys.executable, "-m", "monitor", "stories", "group", "--input", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode != 0
    assert f"{path}:2" in result.stderr and "not a date" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
