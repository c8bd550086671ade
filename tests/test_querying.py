"""Every recipe in docs/querying.md runs against a log built by the real pipeline.

The log: three feeds on a loopback server (English, Chinese, one that fails), the
project's own rules, two polls (backlog, then new entries alerted to the console), a
Telegram chat subscribed by events, and alerts to it delivered through the real
dispatcher with a sink whose outcomes are scripted (sent, retried, failed, uncertain).
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer, status
from helpers import rss, settings_for

from monitor import daemon
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.sinks import Deferred, Failed, SendResult, Sent, Uncertain
from monitor.config import Settings
from monitor.eventlog import events as ev
from monitor.eventlog.queries.alerts import OutgoingAlert
from monitor.eventlog.store import Store
from monitor.eventlog.views import VIEWS, create_views
from monitor.feeds import feed_list as feeds
from monitor.levels import highest

ROOT = Path(__file__).resolve().parents[1]
QUERYING = ROOT / "docs" / "querying.md"
VENV_BIN = Path(sys.executable).parent  # what `make` installs into .venv/bin
SQLITE_UTILS = VENV_BIN / "sqlite-utils"
DOC_SQLITE_UTILS = ".venv/bin/sqlite-utils"  # as the docs write it, runnable after `make`
DOC_DB = "state/monitor.db"
CHAT_ID = 1001

Item = tuple[str, str, str]
TRAINING_BACKLOG: Item = (
    "en-1",
    "China to train 1,000 African police officers, Xi tells Beijing summit",
    "The Ministry of Public Security will host the courses.",
)
WEATHER: Item = ("en-2", "Rain expected in the capital", "Weather news.")
TRAINING: Item = (
    "en-3",
    "China to expand police training for officers from 40 countries",
    "Wang Xiaohong, China's minister for public security, said China will train 3,000"
    " foreign officers, at the Global Public Security Cooperation Forum in Lianyungang.",
)
SOLOMONS: Item = (
    "en-4",
    "Solomon Islands extends security agreement with China",
    "Chinese police advisers stay in Honiara for another three years.",
)
FORUM: Item = (
    "en-5",
    "Delegates from 122 countries gather for Lianyungang security forum",
    "The Global Security Initiative is on the agenda.",
)
TAJIK_BACKLOG: Item = ("zh-1", "中塔签署执法安全合作协议", "双方将加强执法合作。")
SOMALIA: Item = ("zh-2", "中国为索马里培训执法人员", "公安部举办培训班。")

UNCERTAIN = "read timeout: the message may have been delivered"
# What the scripted Telegram sink answers for each entry title, attempt by attempt.
OUTCOMES: dict[str, list[SendResult]] = {
    TRAINING[1]: [Sent("501")],
    SOMALIA[1]: [Deferred("429 Too Many Requests", 0.0), Sent("502")],
    SOLOMONS[1]: [Uncertain(UNCERTAIN)],
    FORUM[1]: [Failed("400 Bad Request: chat not found")],
}


@dataclass
class ScriptedTelegram:
    """A sink for `telegram:` recipients that answers from OUTCOMES (Telegram is not called)."""

    attempts: dict[str, int]

    def accepts(self, recipient: str) -> bool:
        return recipient.startswith("telegram:")

    def ready_in(self, recipient: str, now: float) -> float:
        return 0.0

    def reserve(self, recipient: str, now: float) -> None:
        pass

    async def send(self, alert: OutgoingAlert) -> SendResult:
        tried = self.attempts.get(alert.id, 0)
        self.attempts[alert.id] = tried + 1
        return OUTCOMES[alert.entry_title][tried]


def add_feed(settings: Settings, url: str) -> None:
    with Store(settings.db) as store:
        feeds.add_feed(store, url)


RULE_IDS = ("police-training", "security-cooperation", "global-security-initiative")


def subscribe_chat(settings: Settings) -> None:
    stream = f"chat:{CHAT_ID}"
    started = ev.ChatStarted(chat_id=CHAT_ID, title="Policing desk", kind="group")
    followed = [ev.Subscribed(chat_id=CHAT_ID, rule_id=rule) for rule in RULE_IDS]
    with Store(settings.db) as store:
        store.append(
            [ev.NewEvent(stream, started, "started")]
            + [ev.NewEvent(stream, data, f"subscribed:{data.rule_id}") for data in followed]
        )


def queue_telegram_alerts(store: Store) -> None:
    """Queue each new matched entry for the chat, as the Telegram recipients would."""
    recipient = f"telegram:{CHAT_ID}"
    rows = store.db.execute(
        "SELECT e.id, json_group_array(m.rule_id), json_group_array(m.level)"
        " FROM entries e JOIN matches m ON m.entry_id = e.id"
        " WHERE e.backlog = 0 GROUP BY e.id ORDER BY e.seq"
    )
    queued = [
        (entry_id, json.loads(rules), highest(json.loads(levels)))
        for entry_id, rules, levels in rows
    ]
    store.append(
        [
            ev.NewEvent(
                f"alert:{ev.alert_id_for(entry_id, recipient)}",
                ev.AlertQueued(entry_id=entry_id, recipient=recipient, rules=rules, level=level),
                "queued",
            )
            for entry_id, rules, level in queued
        ]
    )


async def deliver_to_chat(settings: Settings) -> None:
    with Store(settings.db) as store:
        queue_telegram_alerts(store)
        await Dispatcher(store, [ScriptedTelegram({})]).deliver_due()


def build_monitor_log(folder: Path, server: FeedServer) -> Path:
    """A log with feeds, backlog and new entries, matches, alerts, a chat and a failing feed."""
    settings = settings_for(folder, rules=ROOT / "rules", db=folder / "monitor.db")
    english = server.serve("/english.xml", rss([TRAINING_BACKLOG, WEATHER], "World News"))
    chinese = server.serve("/chinese.xml", rss([TAJIK_BACKLOG], "新闻中心"))
    for url in (english, chinese, server.script("/broken.xml", [status(503)])):
        add_feed(settings, url)
    asyncio.run(daemon.run_once(settings, write=lambda line: None))
    subscribe_chat(settings)
    server.serve("/english.xml", rss([FORUM, SOLOMONS, TRAINING, TRAINING_BACKLOG, WEATHER]))
    server.serve("/chinese.xml", rss([SOMALIA, TAJIK_BACKLOG], "新闻中心"))
    asyncio.run(daemon.run_once(settings, write=lambda line: None))
    asyncio.run(deliver_to_chat(settings))
    with Store(settings.db) as store:
        create_views(store.db)
    return settings.db


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with FeedServer() as server:
        yield build_monitor_log(tmp_path_factory.mktemp("querying"), server)


@pytest.fixture(scope="module")
def reader(log_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{log_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    yield db
    db.close()


# -- the recipes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    language: str  # "sql" or "sh"
    text: str
    line: int  # where the block starts in docs/querying.md

    def __str__(self) -> str:
        return f"docs/querying.md:{self.line} ({self.language})"


def recipes(markdown: str) -> list[Recipe]:
    found = []
    for block in re.finditer(r"^```(sql|sh)\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL):
        line = markdown.count("\n", 0, block.start()) + 1
        found.append(Recipe(block.group(1), block.group(2), line))
    return found


def sqlite_utils_args(recipe: Recipe, db_path: Path) -> list[str]:
    """The command line of an `sh` recipe, run on the test log instead of state/monitor.db."""
    lines = [x for x in recipe.text.splitlines() if not x.lstrip().startswith("#")]
    words = shlex.split(" ".join(lines).replace("\\ ", " "))
    assert words[0] == DOC_SQLITE_UTILS, f"{recipe}: an sh recipe is one sqlite-utils command"
    assert DOC_DB in words, f"{recipe}: the command should read {DOC_DB}"
    return [str(db_path) if word == DOC_DB else word for word in words[1:]]


def run_sqlite_utils(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SQLITE_UTILS), *args], capture_output=True, text=True, timeout=60, check=False
    )


def run_sh(recipe: Recipe, db_path: Path) -> None:
    result = run_sqlite_utils(sqlite_utils_args(recipe, db_path))
    assert result.returncode == 0, f"{recipe} failed:\n{result.stderr}"
    output = result.stdout.strip()
    assert output, f"{recipe} printed nothing"
    if output.startswith("["):
        assert json.loads(output), f"{recipe} found no rows"


def run_sql(recipe: Recipe, db: sqlite3.Connection) -> None:
    try:
        rows = db.execute(recipe.text).fetchall()
    except sqlite3.Error as error:
        pytest.fail(f"{recipe} failed: {error}\n{recipe.text}")
    assert rows, f"{recipe} found no rows in the test log:\n{recipe.text}"


ALL_RECIPES = recipes(QUERYING.read_text(encoding="utf-8"))


def test_the_documentation_has_at_least_15_recipes_of_both_kinds() -> None:
    assert len(ALL_RECIPES) >= 15
    assert {r.language for r in ALL_RECIPES} == {"sql", "sh"}


@pytest.mark.parametrize("recipe", ALL_RECIPES, ids=str)
def test_every_recipe_runs_and_finds_rows(
    recipe: Recipe, log_path: Path, reader: sqlite3.Connection
) -> None:
    if recipe.language == "sql":
        run_sql(recipe, reader)
    else:
        run_sh(recipe, log_path)


def shell_commands(markdown: str) -> list[str]:
    """The command lines of the ```sh blocks and of the indented code blocks."""
    fenced = re.findall(r"^```sh\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    indented = re.findall(r"^    (\S.*)$", prose, re.MULTILINE)
    joined = "\n".join([*fenced, *indented]).replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("doc", ["README.md", "docs/querying.md"])
def test_every_command_in_the_docs_runs_as_written_after_make(doc: str) -> None:
    """`make run` or `make test` installs into .venv; a bare `sqlite-utils` is not on PATH."""
    for line in shell_commands((ROOT / doc).read_text(encoding="utf-8")):
        words = [w for w in shlex.split(line, comments=True) if not re.match(r"^\w+=", w)]
        program = words[0]
        assert program == "make" or program.startswith(".venv/bin/"), f"{doc}: {line}"
        if program != "make":
            assert (VENV_BIN / program.removeprefix(".venv/bin/")).exists(), f"{doc}: {line}"


def test_the_readme_sqlite_utils_commands_find_rows(log_path: Path) -> None:
    readme = shell_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    commands = [shlex.split(line) for line in readme if line.startswith(DOC_SQLITE_UTILS)]
    assert len(commands) == 3
    for words in commands:
        result = run_sqlite_utils([str(log_path) if w == DOC_DB else w for w in words[1:]])
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout), words


def test_sqlite_utils_search_finds_police_training(log_path: Path) -> None:
    result = run_sqlite_utils(["search", str(log_path), "entries", "police training"])
    assert result.returncode == 0, result.stderr
    titles = [row["title"] for row in json.loads(result.stdout)]
    assert titles == [TRAINING[1]]


def test_sqlite_utils_lists_tables_and_views_with_counts(log_path: Path) -> None:
    result = run_sqlite_utils(["tables", str(log_path), "--counts"])
    counts = {row["table"]: row["count"] for row in json.loads(result.stdout)}
    assert counts["entries"] == 7 and counts["entries_fts"] == 7
    views = run_sqlite_utils(["views", str(log_path)])
    assert {row["view"] for row in json.loads(views.stdout)} == set(VIEWS)


# -- the views ----------------------------------------------------------------------------


def test_alerts_view_counts_attempts_and_keeps_the_outcome(reader: sqlite3.Connection) -> None:
    rows = reader.execute(
        "SELECT entry_title, status, attempts, sent_at IS NOT NULL AS sent, message_id, last_error"
        " FROM alerts_view WHERE chat_title = 'Policing desk'"
    ).fetchall()
    found = {row["entry_title"]: tuple(row)[1:] for row in rows}
    assert found == {
        TRAINING[1]: ("sent", 1, 1, "501", None),
        SOMALIA[1]: ("sent", 2, 1, "502", None),  # a later success clears the error
        SOLOMONS[1]: ("uncertain", 1, 0, None, UNCERTAIN),
        FORUM[1]: ("failed", 1, 0, None, "400 Bad Request: chat not found"),
    }


def test_feed_health_shows_the_failing_feed_and_its_backoff(reader: sqlite3.Connection) -> None:
    rows = {
        row["url"].rsplit("/", 1)[1]: row for row in reader.execute("SELECT * FROM feed_health")
    }
    broken = rows["broken.xml"]
    assert (broken["state"], broken["failures"], broken["last_status"]) == ("failing", 2, 503)
    assert broken["last_error_kind"] == "server-error" and broken["last_success"] is None
    assert 110 <= broken["backoff_seconds"] <= 130  # twice the 60 s poll interval
    assert broken["last_outcome"] == "failed:server-error" and broken["entries"] == 0
    english = rows["english.xml"]
    assert (english["state"], english["entries"], english["backoff_seconds"]) == ("ok", 5, None)
    assert english["last_success"] == english["last_check"]


def test_json_columns_of_the_views_work_with_json_functions(reader: sqlite3.Connection) -> None:
    countries = reader.execute(
        "SELECT DISTINCT j.value FROM matches_view, json_each(matches_view.entities) j"
        " WHERE j.value LIKE 'country:%' ORDER BY 1"
    ).fetchall()
    assert [row[0] for row in countries] == ["country:cn", "country:sb", "country:so"]
    first_rule = reader.execute(
        "SELECT json_extract(rules, '$[0]') FROM entries_view WHERE title = ?", (SOMALIA[1],)
    ).fetchone()
    assert first_rule[0] == "police-training"


def entry_events(feed_url: str, title: str) -> list[ev.NewEvent]:
    feed_id = ev.feed_id_for(feed_url)
    entry_id = ev.entry_id_for(feed_id, "k1")
    seen = ev.EntrySeen(feed_id=feed_id, key="k1", title=title)
    matched = ev.RuleMatched(rule_id="old-rule", rule_version="v1", level="low", terms=["x"])
    return [
        ev.NewEvent(f"feed:{feed_id}", ev.FeedAdded(url=feed_url), "added"),
        ev.NewEvent(f"entry:{entry_id}", seen, "seen"),
        ev.NewEvent(f"entry:{entry_id}", matched, "matched:old-rule"),
        ev.NewEvent(f"feed:{feed_id}", ev.FeedRemoved(reason="gone"), "removed"),
    ]


def rules_loaded(version: str, *rule_ids: str) -> ev.NewEvent:
    rules = [ev.RuleVersion(id=r, version="v1", level="low", title=f"{r} title") for r in rule_ids]
    return ev.NewEvent("rules:active", ev.RulesLoaded(version=version, rules=rules), version)


def test_matches_view_remembers_removed_feeds_and_retired_rules(tmp_path: Path) -> None:
    with Store(tmp_path / "monitor.db") as store:
        store.append([rules_loaded("set-1", "old-rule")])
        store.append(entry_events("https://example.org/gone.xml", "An old story"))
        store.append([rules_loaded("set-2", "new-rule")])
        create_views(store.db)
        row = store.db.execute("SELECT feed_url, rule_title FROM matches_view").fetchone()
        history = store.db.execute("SELECT ruleset_version, rule_id FROM rules_history").fetchall()
    assert tuple(row) == ("https://example.org/gone.xml", "old-rule title")
    assert [tuple(r) for r in history] == [("set-1", "old-rule"), ("set-2", "new-rule")]


def test_create_views_again_replaces_them_and_joins_an_open_transaction(tmp_path: Path) -> None:
    with Store(tmp_path / "monitor.db") as store:
        create_views(store.db)
        with store.transaction() as db:
            create_views(db)
            assert db.in_transaction
        create_views(store.db)
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='view'")}
        assert names == set(VIEWS)
        for name in VIEWS:
            assert store.db.execute(f"SELECT * FROM {name}").fetchall() == []


def test_readers_and_the_writer_do_not_block_each_other(tmp_path: Path) -> None:
    with Store(tmp_path / "monitor.db") as store:
        store.append([rules_loaded("set-1", "old-rule")])
        create_views(store.db)
        reader = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, timeout=0)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM rules_history").fetchone() == (1,)
        store.append([rules_loaded("set-2", "new-rule")])  # while the read is open
        with store.transaction():  # a write in progress, as during a poll
            listed = run_sqlite_utils(["rows", str(store.path), "rules_history"])
        reader.close()
    assert listed.returncode == 0, listed.stderr
    assert [row["ruleset_version"] for row in json.loads(listed.stdout)] == ["set-1", "set-2"]
