"""The gazetteer: countries, regions, organisations, people and initiatives, with their names.

Read from `rules/entities/*.yaml` (format in docs/rules.md). Region membership is
expanded transitively, so a rule that names `region:africa` also matches Somalia.
`rules/entities/blockers.yaml` lists ordinary words that straddle entity names
(河南 in 河南非法, which is not 南非); monitor.blockers reads it and holds `resolve_names`
(re-exported here), which decides which name hits count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from monitor.errors import Problem, RulesError
from monitor.rules.blockers import (
    BLOCKERS_FILE,
    collect_blockers,  # match.py imports it from here
)
from monitor.rules.files import YamlDocument, content_hash, read_yaml, validation_problems
from monitor.rules.framing import FRAMING_FILE, Framing, collect_framing
from monitor.rules.normalise import normalise_term

EntityType = Literal["country", "region", "organisation", "person", "initiative"]
ENTITY_TYPES: tuple[str, ...] = ("country", "region", "organisation", "person", "initiative")
_ID_PREFIX = {
    "country": "country",
    "region": "region",
    "organisation": "org",
    "person": "person",
    "initiative": "initiative",
}
_ID = re.compile(r"^[a-z]+:[a-z0-9][a-z0-9-]*$")


class EntityEntry(BaseModel):
    """One entry of a gazetteer file, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    type: EntityType
    name: str
    names: list[str] = []
    demonyms: list[str] = []
    metonyms: list[str] = []
    exact: list[str] = []
    zh: list[str] = []
    members: list[str] = []
    # Names (from the lists above) that other states' bodies carry too ("Ministry of
    # Public Security", 公安部): this entity's only when no other state owns them in the
    # text; `owner` is the state whose they are when a text names nobody else's.
    shared: list[str] = []
    owner: str | None = None
    # Every state has one (a coast guard): an unowned shared name is then the state's
    # named nearest before it, and the owner's only when no other state is and the
    # owner is named in the text.
    every_state_has_one: bool = False

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r} is not an id like country:so, region:africa or org:mps")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EntityEntry:
        prefix = _ID_PREFIX[self.type]
        if not self.id.startswith(prefix + ":"):
            raise ValueError(f"an entity of type {self.type} needs an id starting {prefix}:")
        if self.members and self.type != "region":
            raise ValueError("only regions have members")
        if self.shared and self.owner is None:
            raise ValueError("an entity with shared names needs an owner (e.g. owner: country:cn)")
        if self.every_state_has_one and not self.shared:
            raise ValueError("every_state_has_one needs shared names (e.g. shared: [coast guard])")
        listed = {normalise_term(t.strip())[1] for t in self.all_names()}
        for name in self.shared:
            if normalise_term(name.strip())[1] not in listed:
                raise ValueError(f"shared name {name!r} must also be listed in names, exact or zh")
        return self

    def all_names(self) -> list[str]:
        return [self.name, *self.names, *self.demonyms, *self.metonyms, *self.exact, *self.zh]


class EntityFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entities: list[EntityEntry]


@dataclass(frozen=True)
class Entity:
    """An entity ready for matching."""

    id: str
    type: str
    name: str
    terms: tuple[str, ...]  # matched case-insensitively
    exact_terms: tuple[str, ...]  # matched case-sensitively
    members: frozenset[str] = frozenset()  # regions: every member, transitively
    shared: frozenset[str] = frozenset()  # folded names other states' bodies carry too
    owner: str | None = None  # whose the shared names are when nobody else owns them
    every_state_has_one: bool = False  # an unowned shared name is the nearest state's


@dataclass(frozen=True)
class Gazetteer:
    """Every entity by id, and a version hash of the files they came from."""

    entities: Mapping[str, Entity] = field(default_factory=dict)
    version: str = "empty"
    blockers: tuple[str, ...] = ()  # words that suppress entity names they overlap
    framing: Framing = field(default_factory=Framing)  # cues: a name is a mention, not a party

    def select(self, selector: str) -> frozenset[str]:
        """Entity ids a rule selector stands for: an id (a region with its members) or type:X."""
        if selector.startswith("type:"):
            kind = selector.removeprefix("type:")
            return frozenset(e.id for e in self.entities.values() if e.type == kind)
        entity = self.entities.get(selector)
        if entity is None:
            return frozenset()
        return frozenset({entity.id}) | entity.members

    def is_known(self, selector: str) -> bool:
        if selector.startswith("type:"):
            return selector.removeprefix("type:") in ENTITY_TYPES
        return selector in self.entities


def load_gazetteer(directory: Path) -> Gazetteer:
    """Load every `*.yaml` file in `directory`; an absent directory is an empty gazetteer."""
    if not directory.is_dir():
        return Gazetteer()
    docs = [read_yaml(path) for path in sorted(directory.glob("*.yaml"))]
    entries: dict[str, tuple[EntityEntry, YamlDocument, int]] = {}
    problems: list[Problem] = []
    for doc in docs:
        if doc.path.name not in (BLOCKERS_FILE, FRAMING_FILE):
            problems.extend(_collect_entries(doc, entries))
    problems.extend(_member_problems(entries))
    blockers: list[str] = []
    framing = Framing()
    for doc in docs:
        if doc.path.name == BLOCKERS_FILE:
            problems.extend(collect_blockers(doc, _names_of(entries), blockers))
        elif doc.path.name == FRAMING_FILE:
            framing, found = collect_framing(doc)
            problems.extend(found)
    if problems:
        raise RulesError(problems)
    members = {key: _expand(key, entries) for key in entries}
    version = content_hash([[doc.path.name, doc.data] for doc in docs])
    built = {key: _entity(entry, members[key]) for key, (entry, _, _) in entries.items()}
    return Gazetteer(built, version, tuple(dict.fromkeys(blockers)), framing)


def _collect_entries(
    doc: YamlDocument, entries: dict[str, tuple[EntityEntry, YamlDocument, int]]
) -> list[Problem]:
    try:
        parsed = EntityFile.model_validate(doc.data)
    except ValidationError as exc:
        return validation_problems(doc, exc, EntityFile)
    problems = []
    for index, entry in enumerate(parsed.entities):
        if entry.id in entries:
            _, first_doc, first_index = entries[entry.id]
            line = first_doc.line_of(["entities", first_index])
            message = f"duplicate id {entry.id!r} (first defined at {first_doc.path}:{line})"
            problems.append(doc.problem(["entities", index, "id"], message))
            continue
        entries[entry.id] = (entry, doc, index)
    return problems


def _names_of(entries: Mapping[str, tuple[EntityEntry, YamlDocument, int]]) -> dict[str, str]:
    """Every name of every entity, folded, with the id of (one) entity it names."""
    names: dict[str, str] = {}
    for entry, _, _ in entries.values():
        for term in entry.all_names():
            if term.strip():
                names.setdefault(normalise_term(term.strip())[1], entry.id)
    return names


def _member_problems(entries: Mapping[str, tuple[EntityEntry, YamlDocument, int]]) -> list[Problem]:
    problems = []
    for entry, doc, index in entries.values():
        for position, member in enumerate(entry.members):
            if member not in entries:
                message = f"unknown member {member!r}: members must be ids defined in the gazetteer"
                problems.append(doc.problem(["entities", index, "members", position], message))
        if entry.owner is not None and entry.owner not in entries:
            message = f"unknown owner {entry.owner!r}: use an id defined in the gazetteer"
            problems.append(doc.problem(["entities", index, "owner"], message))
    return problems


def _expand(
    key: str, entries: Mapping[str, tuple[EntityEntry, YamlDocument, int]]
) -> frozenset[str]:
    """Every member of a region, following member regions (cycles are harmless)."""
    seen: set[str] = set()
    todo = list(entries[key][0].members)
    while todo:
        member = todo.pop()
        if member in seen or member == key:
            continue
        seen.add(member)
        todo.extend(entries[member][0].members)
    return frozenset(seen)


def _entity(entry: EntityEntry, members: frozenset[str]) -> Entity:
    # A display name listed in `exact` (Chad, Guinea) is an ordinary word in lower case:
    # it is matched only as listed, never also case-insensitively.
    display = [] if entry.name.strip() in entry.exact else [entry.name]
    loose = [*display, *entry.names, *entry.demonyms, *entry.metonyms, *entry.zh]
    terms = tuple(dict.fromkeys(t.strip() for t in loose if t.strip()))
    exact = tuple(dict.fromkeys(t.strip() for t in entry.exact if t.strip()))
    shared = frozenset(normalise_term(t.strip())[1] for t in entry.shared if t.strip())
    return Entity(
        entry.id,
        entry.type,
        entry.name,
        terms,
        exact,
        members,
        shared,
        entry.owner,
        entry.every_state_has_one,
    )
