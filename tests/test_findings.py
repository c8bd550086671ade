"""Structured records: each match's parties, kinds of act and quantities, with the default
rules; stored in RuleMatched, listed by commitments_view, shown by `monitor why`, /why and
the report. The seed story (../shared/seeds) is the reference case.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import settings_for
from typer.testing import CliRunner

from monitor import daemon
from monitor.bot.commands import BotContext, Caller, handle_command
from monitor.cli.app import app
from monitor.config import Settings
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Reader, Store, read_events
from monitor.feeds import feed_list as feeds
from monitor.rules.findings import Finding, Quantity
from monitor.rules.matcher import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seeds" / "000_3631dd8fc12abbb9.txt"
TITLE = "China to train foreign law enforcement officers"
# The seed story's lead and the paragraph with its numbers.
EXCERPT = (
    "China has announced plans to train thousands of foreign law enforcement officers as part"
    " of its efforts to shape the world order. The announcement was made by Wang Xiaohong,"
    " China's minister for public security, at an annual global security forum in the eastern"
    " city of Lianyungang.\n\nLast year, Beijing stated that the GSI aimed to enhance"
    " cooperation between military and police academies and offered 5,000 training"
    " opportunities over five years to address global security issues. Wang indicated that"
    " China has already trained 2,700 foreign officers in the past year and plans to train an"
    " additional 3,000. Following a recent China-Africa forum, Beijing announced that it would"
    " train 1,000 more police enforcement officers for the African continent, although it"
    " remains unclear if these officers are part of the 3,000 mentioned by Wang."
)


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset(ROOT / "rules")


def finding(ruleset: RuleSet, rule_id: str, title: str, summary: str = "", content: str = ""):
    hits = {hit.rule_id: hit for hit in ruleset.match(title, summary, content).rules}
    assert rule_id in hits, sorted(hits)
    return hits[rule_id].finding


def people(found: Finding) -> list[tuple[str, float, str, str, str, str]]:
    return [
        (q.text, q.amount, q.unit, q.status, q.period, q.counterpart)
        for q in found.quantities
        if q.kind == "people"
    ]


def assert_seed_record(found: Finding) -> None:
    assert found.actors[:1] == ("country:cn",)
    assert {"person:wang-xiaohong", "org:mps"} <= set(found.actors)
    assert found.acts[0] == "training"
    assert people(found) == [
        ("2,700 foreign officers", 2700, "officers", "done", "in the past year", ""),
        ("3,000", 3000, "officers", "pledged", "", ""),
        ("1,000 more police enforcement officers", 1000, "officers", "pledged", "",
         "region:africa"),
    ]  # fmt: skip
    [places] = [q for q in found.quantities if q.kind == "places"]
    assert (places.text, places.amount, places.period) == (
        "5,000 training opportunities",
        5000,
        "over five years",
    )
    assert "region:africa" in found.counterparts


def test_the_seed_story_yields_actor_training_and_numbers(ruleset: RuleSet) -> None:
    assert_seed_record(finding(ruleset, "police-training", TITLE, content=EXCERPT))


@pytest.mark.skipif(not SEED.is_file(), reason=f"seed story not found at {SEED}")
def test_the_whole_seed_story_yields_the_same_record(ruleset: RuleSet) -> None:
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    found = finding(ruleset, "police-training", title.strip(), content=body)
    assert_seed_record(found)
    assert found.counterparts == ("region:africa", "country:tl")  # "police training" with Timor


@pytest.mark.parametrize(
    ("title", "summary", "quantity"),
    [
        ("王小洪:中方明年将为各国培训3000名执法人员", "",
         ("3000名执法人员", 3000, "名", "pledged", "明年")),
        ("公安部已为非洲国家培训2700余名警官", "", ("2700余名警官", 2700, "名", "done", "")),
        ("China to train 1,000 African police officers, Xi tells Beijing summit", "",
         ("1,000 African police officers", 1000, "officers", "pledged", "")),
    ],
)  # fmt: skip
def test_quantities_in_both_languages(
    ruleset: RuleSet, title: str, summary: str, quantity: tuple[object, ...]
) -> None:
    found = finding(ruleset, "police-training", title, summary)
    [q] = found.quantities
    assert (q.text, q.amount, q.unit, q.status, q.period) == quantity
    assert found.actors[0] == "country:cn"


def test_money_and_equipment_of_a_donation(ruleset: RuleSet) -> None:
    found = finding(
        ruleset,
        "security-cooperation",
        "China donates VT50M of equipment to Vanuatu police",
        "The handover of 20 vehicles took place in Port Vila.",
    )
    amounts = [(q.text, q.amount, q.unit, q.kind) for q in found.quantities]
    assert amounts == [
        ("VT50M of equipment", 50_000_000, "VT", "money"),
        ("20 vehicles", 20, "vehicles", "items"),
    ]
    assert (found.actors, found.counterparts, found.acts[0]) == (
        ("country:cn",),
        ("country:vu",),
        "donation",
    )


def test_a_signatory_is_a_counterpart_and_a_framing_one_is_not(ruleset: RuleSet) -> None:
    found = finding(
        ruleset,
        "security-cooperation",
        "China, Laos sign agreement on law enforcement cooperation",
        "The deal comes amid concerns over the United States' influence.",
    )
    assert found.actors == ("country:cn",)
    assert found.counterparts == ("country:la",)
    assert found.acts == ("agreement",)


def test_years_counts_of_states_and_a_lone_one_are_not_quantities(ruleset: RuleSet) -> None:
    found = finding(
        ruleset,
        "police-training",
        "China trains Somali police officers in 2024",
        "Delegates of 122 countries attended; 一名 officer spoke.",
    )
    assert found.quantities == ()


# --- stored, listed, shown --------------------------------------------------------------


def seed_feed(now: datetime) -> str:
    item = (
        f"<guid>seed-1</guid><title>{TITLE}</title><link>http://127.0.0.1/news/seed</link>"
        "<description>Wang Xiaohong spoke at the Lianyungang forum.</description>"
        f"<content:encoded>{html.escape(EXCERPT)}</content:encoded>"
        f"<pubDate>{format_datetime(now)}</pubDate>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Seed news</title><item>{item}</item></channel></rss>"
    )


@pytest.fixture
def polled(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    settings = settings_for(tmp_path, db=log_target, rules=ROOT / "rules", telegram_admins=(7,))
    with Store(settings.db) as store:
        feeds.add_feed(store, feed_server.serve("/seed.xml", seed_feed(datetime.now(UTC))))
    asyncio.run(daemon.run_once(settings))
    for name in list(os.environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MONITOR_DB", str(settings.db))
    monkeypatch.setenv("MONITOR_RULES", str(settings.rules))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return settings


def test_rule_matched_carries_the_record_and_the_view_lists_it(polled: Settings) -> None:
    with Store(polled.db) as store:
        matched = {
            e.data.rule_id: e.data
            for e in read_events(store, types=["RuleMatched"])
            if isinstance(e.data, ev.RuleMatched)
        }
        assert replay(store, write=False).identical
    training = matched["police-training"]
    assert training.actors[:1] == ["country:cn"] and "org:mps" in training.actors
    assert [q.text for q in training.quantities] == [
        "5,000 training opportunities",
        "2,700 foreign officers",
        "3,000",
        "1,000 more police enforcement officers",
    ]
    with Reader.open(polled.db) as log:  # the view as an analyst reads it, on either engine
        rows = log.db.execute(
            "SELECT amount, unit, status, region, act, actors FROM commitments_view"
            " WHERE rule_id = 'police-training' AND kind = 'people' ORDER BY start"
        ).fetchall()
    assert [(r["amount"], r["status"], r["region"]) for r in rows] == [
        (2700, "done", None),
        (3000, "pledged", None),
        (1000, "pledged", "region:africa"),
    ]
    assert {r["act"] for r in rows} == {"training"} and "country:cn" in rows[0]["actors"]


def test_why_shows_the_parties_and_quantities(polled: Settings) -> None:
    url = "http://127.0.0.1/news/seed"
    result = CliRunner().invoke(app, ["why", url, "--json"])
    assert result.exit_code == 0, result.output
    [story] = json.loads(result.output)
    match = next(m for m in story["matches"] if m["rule_id"] == "police-training")
    assert match["acts"][0] == "training" and "person:wang-xiaohong" in match["actors"]
    assert match["quantities"][1]["text"] == "2,700 foreign officers"
    shown = CliRunner().invoke(app, ["why", url, "--wide"], env={"COLUMNS": "300"})
    assert "Quantities" in shown.output and "1,000 more police enforcement officers" in shown.output
    with Store(polled.db) as store:
        context = BotContext(store, lambda: load_ruleset(ROOT / "rules"), polled, store.clock)
        reply = handle_command(context, Caller(2002, "private", "Boss", 7), "why", url).text
    assert "Parties: country:cn" in reply and "region:africa" in reply
    assert "· 2,700 foreign officers (training, done, in the past year)" in reply


def test_the_report_adds_officers_by_region_and_year(polled: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Officers pledged or trained, by counterpart region and year" in page
    year = str(datetime.now(UTC).year)
    assert (
        f"<tr><td>Africa</td><td>{year}</td><td class='n'>1,000</td><td class='n'></td>"
        "<td class='n'>1,000</td><td class='n'>1</td></tr>"
    ) in page
    assert (
        f"<tr><td>not named</td><td>{year}</td><td class='n'>5,700</td>"
        "<td class='n'>2,700</td><td class='n'>3,000</td><td class='n'>1</td></tr>"
    ) in page


def test_matches_recorded_before_records_decode_and_replay(
    tmp_path: Path, log_target: Path | str
) -> None:
    store = Store(log_target)
    feed_id = ev.feed_id_for("http://127.0.0.1/f.xml")
    entry = ev.entry_stream(ev.entry_id_for(feed_id, "k"))
    old = ev.decode("RuleMatched", '{"rule_id": "r", "rule_version": "v", "level": "high"}')
    assert isinstance(old, ev.RuleMatched) and (old.actors, old.quantities) == ([], [])
    seen = ev.EntrySeen(feed_id=feed_id, key="k", title="t")
    store.append([ev.NewEvent(entry, seen, "seen"), ev.NewEvent(entry, old, "r@v")])
    assert store.db.execute("SELECT COUNT(*) FROM commitments_view").fetchone()[0] == 0
    assert replay(store, write=False).identical
    store.close()


def test_a_quantity_record_round_trips_through_the_event(ruleset: RuleSet) -> None:
    [q] = finding(
        ruleset, "police-training", "China to train 1,000 African police officers"
    ).quantities
    stored = ev.Quantity.model_validate_json(ev.Quantity(**q.__dict__).model_dump_json())
    assert Quantity(**stored.model_dump()) == q
