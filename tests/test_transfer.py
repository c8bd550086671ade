"""`monitor migrate --to` and `monitor export --sqlite`: a log copied between engines, checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from fakes.feed_server import FeedServer
from helpers import cli_environment, invoke, rss

from monitor.eventlog import events as ev
from monitor.eventlog.store import Reader, Store
from monitor.eventlog.transfer import compare_logs, copy_log


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_environment(tmp_path, monkeypatch)


def a_log_with_matches(feed_server: FeedServer) -> None:
    """Feeds added, polled twice, entries matched and alerts raised: every projection used."""
    items = [
        ("a", "Police training course for foreign officers", "Chinese police trainers"),
        ("b", "Weather for the weekend", "Sunny"),
    ]
    url = feed_server.serve("/f.xml", rss(items))
    assert invoke("feeds", "add", url, "--no-check")[0] == 0
    assert invoke("run", "--once")[0] == 0
    items.append(("c", "Police training in the Pacific", "A new police training centre"))
    feed_server.serve("/f.xml", rss(items))
    assert invoke("run", "--once")[0] == 0


def test_migrate_to_postgresql_copies_every_event_and_projection(
    env: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    a_log_with_matches(feed_server)
    code, output = invoke("migrate", "--to", postgres_url)
    assert code == 0, output
    assert "the two logs are identical" in output and "rows differ" not in output
    with Reader.open(env / "log.db") as sqlite_log, Reader.open(postgres_url) as pg_log:
        assert compare_logs(sqlite_log, pg_log).identical
        assert compare_logs(sqlite_log, pg_log).events > 5

    code, output = invoke("migrate", "--to", postgres_url)  # again: resumes, copies nothing
    assert code == 0 and "copied 0 events" in output and "identical" in output


def test_migrate_check_finds_what_differs_and_exits_1(
    env: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    a_log_with_matches(feed_server)
    assert invoke("migrate", "--to", postgres_url)[0] == 0
    with Store(env / "log.db") as store:  # the source moves on after the copy
        store.append([ev.NewEvent("chat:42", ev.ChatStarted(chat_id=42, title="late"), key="late")])
    code, output = invoke("migrate", "--to", postgres_url, "--check")
    assert code == 1
    assert "events         1 rows differ" in output
    assert "the two logs are different" in output


def test_migrate_refuses_a_target_that_holds_another_log(
    env: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    with Store(postgres_url) as other:
        other.append([ev.NewEvent("chat:42", ev.ChatStarted(chat_id=42, title="x"), key="other")])
    with Store(env / "log.db") as store:
        store.append([ev.NewEvent("chat:42", ev.ChatStarted(chat_id=42, title="y"), key="mine")])
    code, output = invoke("migrate", "--to", postgres_url)
    assert code == 1
    assert "stream chat:42 already holds other events" in " ".join(output.split())


def test_export_from_postgresql_writes_a_file_sqlite_utils_opens(
    env: Path, feed_server: FeedServer, postgres_url: str, tmp_path: Path
) -> None:
    a_log_with_matches(feed_server)
    assert invoke("migrate", "--to", postgres_url)[0] == 0
    exported = tmp_path / "snapshot.db"
    with Reader.open(postgres_url) as pg_log, Store(exported) as target:
        report = copy_log(pg_log, target)
    assert report.copied > 5 and report.present == 0
    with Reader.open(postgres_url) as pg_log, Reader.open(exported) as file_log:
        assert compare_logs(pg_log, file_log).identical
    db = sqlite_utils.Database(exported)
    assert db["entries"].count == 3
    assert "matches_view" in db.view_names()
    hits = list(db["entries"].search("Pacific"))
    assert [hit["title"] for hit in hits] == ["Police training in the Pacific"]


def test_export_since_and_refusals(env: Path, feed_server: FeedServer, tmp_path: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=10)
    with Store(env / "log.db", clock=lambda: long_ago) as store:
        store.append([ev.NewEvent("chat:7", ev.ChatStarted(chat_id=7, title="old"), key="old")])
    a_log_with_matches(feed_server)
    code, output = invoke("export", "--sqlite", str(tmp_path / "all.db"))
    assert code == 0 and "exported" in output
    code, output = invoke("export", "--sqlite", str(tmp_path / "all.db"))
    assert code == 2 and "exists" in output
    code, output = invoke("export", "--sqlite", str(tmp_path / "recent.db"), "--since", "1h")
    assert code == 0
    recent = sqlite_utils.Database(tmp_path / "recent.db")
    assert recent["entries"].count == 3 and recent["chats"].count == 0
    assert sqlite_utils.Database(tmp_path / "all.db")["chats"].count == 1
    code, output = invoke("export", "--sqlite", str(tmp_path / "x.db"), "--since", "soon")
    assert code == 2 and "--since" in output
