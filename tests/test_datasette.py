"""docs/datasette.yml works with Datasette itself, on a log built by the real pipeline."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from datasette.app import Datasette
from fakes.feed_server import FeedServer
from test_querying import ROOT, SOMALIA, TRAINING, build_monitor_log

from monitor.eventlog.views import VIEWS

METADATA: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "datasette.yml").read_text("utf-8"))
DATABASE: dict[str, Any] = METADATA["databases"]["monitor"]
TABLES: dict[str, dict[str, Any]] = DATABASE["tables"]
QUERIES: dict[str, dict[str, Any]] = DATABASE["queries"]

# A value for each parameter a canned query may take; a new parameter needs one here.
SAMPLE_PARAMETERS = {
    "rule": "police-training",
    "entity": "country:so",
    "chat": "Policing desk",
    "words": "police training",
    "text": "培训",
}


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with FeedServer() as server:
        # Datasette names the database after the file: "monitor", as state/monitor.db.
        yield build_monitor_log(tmp_path_factory.mktemp("datasette"), server)


@pytest.fixture
def datasette(log_path: Path) -> Any:
    return Datasette([str(log_path)], metadata=METADATA)


def columns_of(log_path: Path, table: str) -> set[str]:
    with sqlite3.connect(f"file:{log_path}?mode=ro", uri=True) as db:
        return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def parameters(sql: str) -> set[str]:
    return set(re.findall(r"(?<![:\w]):(\w+)", sql))


async def get_json(datasette: Any, path: str) -> Any:
    response = await datasette.client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}\n{response.text[:500]}"
    return response.json()


async def test_the_database_opens_with_every_view_and_canned_query(datasette: Any) -> None:
    found = await get_json(datasette, "/monitor.json")
    assert {view["name"] for view in found["views"]} == set(VIEWS)
    assert {query["name"] for query in found["queries"]} == set(QUERIES)
    assert len(QUERIES) >= 5


def test_every_described_table_and_column_exists(log_path: Path) -> None:
    for table, meta in TABLES.items():
        existing = columns_of(log_path, table)
        assert existing, f"docs/datasette.yml describes {table}, which is not in the database"
        described = set(meta.get("columns", {})) | {
            facet if isinstance(facet, str) else next(iter(facet.values()))
            for facet in meta.get("facets", [])
        }
        assert described <= existing, f"{table}: no such columns {described - existing}"


@pytest.mark.parametrize("table", sorted(TABLES))
async def test_a_table_page_shows_its_descriptions(datasette: Any, table: str) -> None:
    response = await datasette.client.get(f"/monitor/{table}")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert TABLES[table]["description"] in page
    for description in TABLES[table].get("columns", {}).values():
        assert description in page


@pytest.mark.parametrize("table", sorted(t for t, meta in TABLES.items() if meta.get("facets")))
async def test_the_configured_facets_are_computed(datasette: Any, table: str) -> None:
    found = await get_json(datasette, f"/monitor/{table}.json")
    names = {f if isinstance(f, str) else next(iter(f.values())) for f in TABLES[table]["facets"]}
    assert names <= set(found["facet_results"])


async def test_a_facet_value_filters_the_rows(datasette: Any) -> None:
    found = await get_json(datasette, "/monitor/matches_view.json")
    counts = {r["value"]: r["count"] for r in found["facet_results"]["rule_id"]["results"]}
    assert counts["police-training"] == 4
    chosen = await get_json(
        datasette, "/monitor/matches_view.json?rule_id=police-training&_shape=objects"
    )
    assert {row["rule_id"] for row in chosen["rows"]} == {"police-training"}
    assert len(chosen["rows"]) == counts["police-training"]


async def test_the_entities_array_facet_counts_countries(datasette: Any) -> None:
    found = await get_json(datasette, "/monitor/matches_view.json")
    counts = {r["value"]: r["count"] for r in found["facet_results"]["entities"]["results"]}
    assert counts["country:so"] == 1 and counts["country:cn"] >= 5


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_every_canned_query_runs_and_finds_rows(datasette: Any, name: str) -> None:
    wanted = parameters(QUERIES[name]["sql"])
    assert wanted <= set(SAMPLE_PARAMETERS), f"{name}: add a sample value for {wanted}"
    query = urlencode({"_shape": "array", **{p: SAMPLE_PARAMETERS[p] for p in wanted}})
    rows = await get_json(datasette, f"/monitor/{name}.json?{query}")
    assert rows, f"canned query {name} found no rows"


async def test_canned_queries_with_a_blank_parameter_mean_all(datasette: Any) -> None:
    every = await get_json(datasette, "/monitor/alerts_to_chat.json?_shape=array&chat=")
    chat = await get_json(datasette, "/monitor/alerts_to_chat.json?_shape=array&chat=telegram:1001")
    assert len(chat) == 4 and len(every) == 8


async def test_entity_mentions_finds_the_somali_entry(datasette: Any) -> None:
    rows = await get_json(datasette, "/monitor/entity_mentions.json?_shape=array&entity=country:so")
    assert [row["entry_title"] for row in rows] == [SOMALIA[1]]


async def test_full_text_search_works_on_entries(datasette: Any) -> None:
    query = urlencode({"_search": "police training", "_shape": "array"})
    rows = await get_json(datasette, f"/monitor/entries.json?{query}")
    assert [row["title"] for row in rows] == [TRAINING[1]]
