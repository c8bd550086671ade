"""The view commands (matches, search, why, stats, report) through typer's runner, on a real log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from fakes.feed_server import FeedServer
from helpers import settings_for
from postgres_server import PostgresServer
from rich.cells import cell_len
from test_report import HOSTILE_TITLE, build_log
from typer.testing import CliRunner, Result

from monitor.cli.views import register, spark
from monitor.config import Settings
from monitor.eventlog import events as ev
from monitor.eventlog.store import Store

runner = CliRunner()
COMMANDS = ("matches", "search", "why", "stats", "report")


def views_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """The view commands alone, as monitor.cli registers them."""

    register(app)
    return app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """One log for the module on each engine: the commands only read it."""
    with FeedServer() as server, ExitStack() as stack:
        db: Path | str | None = None
        if request.param == "postgresql":
            postgres: PostgresServer = request.getfixturevalue("postgres_server")
            db = stack.enter_context(postgres.fresh_database())
        yield build_log(tmp_path_factory.mktemp("log"), server, db)


def invoke(settings: Settings, *args: str) -> Result:
    # wide enough that Rich folds no cell of the tables
    return runner.invoke(views_app(), list(args), obj=settings, env={"COLUMNS": "300"})


def as_json(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(views_app(), [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_a_huge_window_is_one_line_naming_since(log: Settings) -> None:
    result = invoke(log, "matches", "--since", "99999999999d")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "error: --since: '99999999999d' is too long: at most 36500d"
    ]


def test_matches_seen_this_week_include_the_backlog_of_a_fresh_install(log: Settings) -> None:
    rows = as_json(invoke(log, "matches", "--json"))
    assert isinstance(rows, list)
    # every entry was seen today: the first poll's backlog too, however old its date
    assert len(rows) == 9
    assert "Old police training news from Kenya" in {r["title"] for r in rows}  # 200 days old
    assert [r["seen_at"] for r in rows] == sorted((r["seen_at"] for r in rows), reverse=True)


def test_matches_published_in_the_last_week_newest_first(log: Settings) -> None:
    rows = as_json(invoke(log, "matches", "--by", "published", "--json"))
    assert isinstance(rows, list)
    # a5 and a6 (police-test) and b2 (gsi-test) are from today; the rest is older than 7 days
    assert sorted(r["rule_id"] for r in rows) == ["gsi-test", "police-test", "police-test"]
    assert {r["title"] for r in rows if r["rule_id"] == "police-test"} == {
        HOSTILE_TITLE,
        "Police training, link unsafe",
    }
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    serbia = next(r for r in rows if r["title"] == HOSTILE_TITLE)
    assert serbia["entities"] == ["country:rs"] and serbia["alerted"] is True
    assert serbia["alert"] == "sent"
    assert serbia["source"] == "Ministry news"


def test_matches_filters_by_rule_level_window_and_limit(log: Settings) -> None:
    gsi = as_json(invoke(log, "matches", "--rule", "gsi-test", "--since", "30d", "--json"))
    assert isinstance(gsi, list) and len(gsi) == 3
    assert {r["rule_id"] for r in gsi} == {"gsi-test"}
    high = as_json(invoke(log, "matches", "--by", "published", "--level", "high", "--json"))
    assert isinstance(high, list) and len(high) == 2
    high = as_json(invoke(log, "matches", "--since", "365d", "--level", "high", "--json"))
    assert isinstance(high, list) and len(high) == 6
    assert {r["level"] for r in high} == {"high"}
    one = as_json(invoke(log, "matches", "--since", "365d", "--limit", "1", "--json"))
    assert isinstance(one, list) and len(one) == 1


def test_matches_table_and_bad_options(log: Settings) -> None:
    table = invoke(log, "matches", "--since", "30d")
    assert table.exit_code == 0, table.output
    assert "Serbia joins Global Security" in table.stdout
    assert HOSTILE_TITLE in table.stdout  # Rich markup in stored text is shown, not obeyed
    bad_level = invoke(log, "matches", "--level", "urgent")
    assert bad_level.exit_code == 2 and "--level" in bad_level.output
    assert "critical" in bad_level.output
    bad_since = invoke(log, "matches", "--since", "a week")
    assert bad_since.exit_code == 2 and "--since" in bad_since.output
    bad_by = invoke(log, "matches", "--by", "date")
    assert bad_by.exit_code == 2 and "--by" in bad_by.output and "published" in bad_by.output
    unknown = invoke(log, "matches", "--rule", "no-such-rule")
    assert unknown.exit_code == 0
    assert "no rule 'no-such-rule'" in unknown.output and "gsi-test" in unknown.output


def test_search_english_and_chinese_words(log: Settings) -> None:
    rows = as_json(invoke(log, "search", "police", "training", "Kenyan", "--json"))
    assert isinstance(rows, list)
    assert [r["title"] for r in rows] == ["China to expand police training for Kenyan officers"]
    assert rows[0]["rules"] == "police-test"
    chinese = as_json(invoke(log, "search", "警务培训", "--json"))
    assert isinstance(chinese, list)
    assert [(r["title"], r["source"]) for r in chinese] == [
        ("中方为非洲国家举办警务培训", "环球新闻")
    ]
    unmatched = as_json(invoke(log, "search", "rain", "--json"))
    assert isinstance(unmatched, list) and unmatched[0]["rules"] == ""


def test_search_reads_no_user_text_as_query_syntax(log: Settings) -> None:
    result = invoke(log, "search", 'police" OR training*', "NEAR(")
    assert result.exit_code == 0, result.output
    empty = invoke(log, "search", "!!", "--")
    assert empty.exit_code == 2 and "letter or digit" in empty.output


def test_why_tells_an_alerted_entry_from_its_link_with_tracking(log: Settings) -> None:
    [story] = as_json(invoke(log, "why", "http://127.0.0.1/news/a5?utm_source=rss", "--json"))  # type: ignore[misc]
    assert story["entry"]["title"] == HOSTILE_TITLE
    assert [m["rule_id"] for m in story["matches"]] == ["police-test"]
    assert story["matches"][0]["entities"] == ["country:rs"]
    [alert] = story["alerts"]
    assert alert["status"] == "sent"
    assert [h["type"] for h in alert["history"]][-1] == "AlertSent"
    table = invoke(log, "why", "http://127.0.0.1/news/a5")
    assert table.exit_code == 0, table.output
    assert HOSTILE_TITLE in table.stdout
    assert "Alert history" in table.stdout and "AlertSent" in table.stdout


def test_why_backlog_entry_and_unknown_link(log: Settings) -> None:
    [story] = as_json(invoke(log, "why", "http://127.0.0.1/news/a1", "--json"))  # type: ignore[misc]
    assert story["entry"]["backlog"] == 1 and story["alerts"] == []
    assert "backlog" in invoke(log, "why", "http://127.0.0.1/news/a1").stdout
    missing = invoke(log, "why", "http://127.0.0.1/news/nope")
    assert missing.exit_code == 1
    assert "http://127.0.0.1/news/nope" in missing.output and "monitor search" in missing.output
    brackets = invoke(log, "why", "http://127.0.0.1/[/][bold]")
    assert brackets.exit_code == 1 and "http://127.0.0.1/[/][bold]" in brackets.output


def test_stats_per_rule_and_per_feed_per_week(log: Settings) -> None:
    seen = as_json(invoke(log, "stats", "--json"))
    assert isinstance(seen, dict)  # everything was seen this week
    assert [sum(seen["rules"][r]) for r in ("police-test", "gsi-test")] == [6, 3]
    assert seen["rules"]["police-test"][-1] == 6
    stats = as_json(invoke(log, "stats", "--by", "published", "--json"))
    assert isinstance(stats, dict)
    assert len(stats["weeks"]) in (13, 14)
    assert sum(stats["rules"]["police-test"]) == 5 and sum(stats["rules"]["gsi-test"]) == 3
    ministry = stats["feeds"]["Ministry news"]
    assert (sum(ministry["entries"]), sum(ministry["matched"])) == (6, 5)  # not a0: too old
    assert all(len(counts) == len(stats["weeks"]) for counts in ministry.values())
    year = as_json(invoke(log, "stats", "--since", "365d", "--by", "published", "--json"))
    assert isinstance(year, dict) and sum(year["rules"]["police-test"]) == 6
    table = invoke(log, "stats")
    assert table.exit_code == 0 and "环球新闻" in table.stdout and "█" in table.stdout


def test_spark_scales_to_the_highest_week() -> None:
    assert spark((0, 1, 4, 8)) == "·▁▄█"
    assert spark((0, 0)) == "··"
    assert spark(()) == ""


def test_report_command_writes_the_file_with_gazetteer_names(log: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke(log, "report", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 8 matches in 2 topics" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert "<td>Serbia</td><td class='muted'>country:rs</td>" in page


def test_report_with_a_bad_gazetteer_shows_ids(log: Settings, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "entities").mkdir(parents=True)
    (rules / "entities" / "bad.yaml").write_text("entities: [{id: nope}]\n", encoding="utf-8")
    out = tmp_path / "report.html"
    result = invoke(log.model_copy(update={"rules": rules}), "report", "--out", str(out))
    assert result.exit_code == 0
    assert "gazetteer cannot be read" in result.output and "bad.yaml" in result.output
    assert "<td>country:rs</td>" in out.read_text(encoding="utf-8")


def test_report_to_a_missing_folder_names_the_path(log: Settings, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "report.html"
    result = invoke(log, "report", "--out", str(out))
    assert result.exit_code == 1 and str(out) in result.output
    assert invoke(log, "report", "--out", str(out), "--since", "x").exit_code == 2


# --- an empty answer says what filtered everything out ------------------------------------


def log_seen_days_ago(tmp_path: Path, days: float) -> Settings:
    """One feed, two matched entries and one unmatched, all seen `days` days ago."""
    settings = settings_for(tmp_path)
    feed_id = ev.feed_id_for("http://127.0.0.1/old.xml")
    moment = datetime.now(UTC) - timedelta(days=days)
    seen = [ev.NewEvent(f"feed:{feed_id}", ev.FeedAdded(url="http://127.0.0.1/old.xml"), "added")]
    for key, level in (("k1", "high"), ("k2", "low"), ("k3", None)):
        stream = f"entry:{ev.entry_id_for(feed_id, key)}"
        seen.append(ev.NewEvent(stream, ev.EntrySeen(feed_id=feed_id, key=key, title=key), key))
        if level:
            matched = ev.RuleMatched(rule_id="police-test", rule_version="v1", level=level)
            seen.append(ev.NewEvent(stream, matched, f"matched:{key}"))
    with Store(settings.db, clock=lambda: moment) as store:
        store.append(seen)
    return settings


def test_no_matches_in_the_window_says_how_far_back_they_are(tmp_path: Path) -> None:
    settings = log_seen_days_ago(tmp_path, 29.5)
    result = invoke(settings, "matches")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.strip() == (
        "no matches seen in the last 7d (2 older matches, the oldest 30d ago: try --since 30d)"
    )
    assert as_json(invoke(settings, "matches", "--json")) == []
    assert len(as_json(invoke(settings, "matches", "--since", "30d", "--json"))) == 2  # type: ignore[arg-type]
    stats = invoke(settings, "stats", "--since", "7d")
    assert stats.exit_code == 0 and stats.stdout == ""
    assert "no entries seen in the last 7d (3 older entries" in stats.stderr
    assert "try --since 30d" in stats.stderr


def test_no_matches_names_the_filters_that_left_them_out(tmp_path: Path) -> None:
    settings = log_seen_days_ago(tmp_path, 1)
    result = invoke(settings, "matches", "--rule", "police-test", "--level", "critical")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.strip() == (
        "no matches of rule police-test at level critical or above seen in the last 7d"
        " (2 of other rules or levels: try without --rule or --level)"
    )
    published = invoke(settings, "matches", "--by", "published", "--since", "1h")
    assert "no matches published in the last 1h (2 older matches" in published.stderr


def test_an_empty_log_says_there_is_nothing_yet(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert "the log has no matches yet (0 entries seen)" in invoke(settings, "matches").stderr
    assert "the log has no entries yet" in invoke(settings, "stats").stderr


def test_help_says_the_window_counts_from_when_entries_were_seen() -> None:
    for command in ("matches", "stats"):
        result = runner.invoke(views_app(), [command, "--help"], env={"COLUMNS": "200"})
        assert "by when the entry was seen" in result.output
        assert "--by" in result.output and "published" in result.output


# --- tables fit an 80-column terminal ------------------------------------------------------


def narrow(settings: Settings, *args: str) -> list[str]:
    result = runner.invoke(views_app(), list(args), obj=settings, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    return lines


def table_rows(lines: list[str]) -> int:
    return sum(line.startswith("│") for line in lines)  # header lines start with ┃


def test_view_tables_fit_80_columns_one_line_per_row(log: Settings) -> None:
    matches = narrow(log, "matches")
    assert table_rows(matches) == 9
    assert any(line.startswith("│ 20") and "…" in line for line in matches)  # titles cut
    assert table_rows(narrow(log, "search", "police")) == 5
    weeks = len(as_json(invoke(log, "stats", "--json"))["weeks"])  # type: ignore[index]
    assert table_rows(narrow(log, "stats")) == weeks + 2  # then the two feeds
    # a match, what it found (its kinds of act), an alert, three attempts
    assert table_rows(narrow(log, "why", "http://127.0.0.1/news/a5")) == 1 + 1 + 1 + 3


def test_wide_matches_show_every_column_and_the_alert(log: Settings) -> None:
    result = runner.invoke(views_app(), ["matches", "--wide"], obj=log, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "seen_at" in line)
    for column in ("at", "seen_at", "rule_id", "title", "source", "entities", "link", "alert"):
        assert f" {column} " in header
    assert HOSTILE_TITLE in result.stdout and "…" not in result.stdout
    assert "http://127.0.0.1/news/a5" in result.stdout
