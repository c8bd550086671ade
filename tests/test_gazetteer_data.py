"""The gazetteer data in rules/entities/: well formed, complete and unambiguous.

The YAML is read with pyyaml directly, not through monitor.entities, so that the
data is checked on its own terms (rules/entities/README.md describes the format).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

GAZETTEER = Path(__file__).resolve().parent.parent / "rules" / "entities"
BLOCKERS = GAZETTEER / "blockers.yaml"
FRAMING = GAZETTEER / "framing.yaml"  # cues for parties blocks, not entities
FILE_TYPES = {
    "countries.yaml": "country",
    "regions.yaml": "region",
    "organisations.yaml": "organisation",
    "people.yaml": "person",
    "initiatives.yaml": "initiative",
}
ID_PREFIX = {
    "country": "country",
    "region": "region",
    "organisation": "org",
    "person": "person",
    "initiative": "initiative",
}
LIST_KEYS = ("names", "demonyms", "metonyms", "exact", "zh", "members", "shared")
LOOSE_KEYS = ("names", "demonyms", "metonyms")  # matched case-insensitively

# ISO 3166-1 alpha-2 codes of the 193 UN member states.
UN_MEMBERS = frozenset(
    """
    af al dz ad ao ag ar am au at az bs bh bd bb by be bz bj bt bo ba bw br bn bg bf bi
    cv kh cm ca cf td cl cn co km cg cd cr ci hr cu cy cz dk dj dm do ec eg sv gq er ee
    sz et fj fi fr ga gm ge de gh gr gd gt gn gw gy ht hn hu is in id ir iq ie il it jm
    jp jo kz ke ki kp kr kw kg la lv lb ls lr ly li lt lu mg mw my mv ml mt mh mr mu mx
    fm md mc mn me ma mz mm na nr np nl nz ni ne ng mk no om pk pw pa pg py pe ph pl pt
    qa ro ru rw kn lc vc ws sm st sa sn rs sc sl sg sk si sb so za ss es lk sd sr se ch
    sy tj tz th tl tg to tt tn tr tm tv ug ua ae gb us uy uz vu ve vn ye zm zw
    """.split()
)
# Taiwan, Hong Kong, Macau, and the two UN observer states.
ALSO_COUNTRIES = frozenset({"tw", "hk", "mo", "ps", "va"})

# Terms that may name two entities at once, with the reason. Empty on purpose:
# add an entry only when one string truly stands for both.
SHARED_TERMS: dict[str, tuple[frozenset[str], str]] = {}

# Ordinary English words and names: only ever in `exact`, never case-insensitive.
COMMON_WORDS = frozenset(
    """
    turkey chad jordan georgia guinea niger togo chile polish poles pole male victoria
    kingston lima praia roseau sofia manila muscat nassau wellington santiago moroni
    georgetown pentagon swedes quad us uk un eu au lao
    """.split()
)

# zh strings that sit inside ordinary words or mean something else; never a zh term.
FORBIDDEN_ZH = {
    "中非": "China-Africa (中非合作论坛), not the Central African Republic",
    "海地": "inside 沿海地区 (coastal areas)",
    "蒙古": "also the Mongols and Inner Mongolia (内蒙古)",
    "上合": "inside 马上合作",
    "中共": "inside 其中共有",
    "法方": "inside 执法方面",
    "万象": "包罗万象 (myriad things)",
    "金边": "金边债券 (gilt-edged bonds)",
    "大马": "inside 大马路 (main road)",
    "巴新": "inside 古巴新闻",
    "东加": "inside 广东加强",
    "加沙": "overlaps 参加沙龙",
    "东非": "inside 广东非法",
    "西非": "inside 山西非常",
    "北非": "inside 河北非法",
    "美": "one character",
    "西方": "also the direction west",
}

REGION_PARENTS = {
    "region:north-africa": "region:africa",
    "region:west-africa": "region:africa",
    "region:central-africa": "region:africa",
    "region:east-africa": "region:africa",
    "region:southern-africa": "region:africa",
    "region:sahel": "region:africa",
    "region:horn-of-africa": "region:africa",
    "region:gulf-of-guinea": "region:africa",
    "region:korean-peninsula": "region:east-asia",
    "region:mekong": "region:southeast-asia",
    "region:gulf-states": "region:middle-east",
    "region:pacific-islands": "region:oceania",
    "region:western-balkans": "region:balkans",
    "region:balkans": "region:europe",
    "region:central-america": "region:latin-america",
    "region:caribbean": "region:latin-america",
    "region:south-america": "region:latin-america",
}
REGION_SIZES = {
    "region:africa": 54,
    "region:central-asia": 5,
    "region:pacific-islands": 12,
    "region:southeast-asia": 11,
    "region:latin-america": 33,
}
REQUIRED_IDS = (
    "country:cn region:africa region:central-asia region:pacific-islands region:southeast-asia "
    "region:latin-america region:middle-east region:europe org:mps org:ppsuc org:gpscf org:sco "
    "org:sco-rats org:cica org:interpol org:asean org:african-union org:pif org:focac "
    "person:wang-xiaohong person:xi-jinping initiative:gsi initiative:bri initiative:gdi "
    "initiative:gci"
).split()

_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Entry:
    """One gazetteer entry and where it was read."""

    file: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data.get("id"))

    def where(self) -> str:
        return f"rules/entities/{self.file}, entry {self.id}"

    def terms(self, *keys: str) -> list[str]:
        return [t for key in keys for t in self.data.get(key) or []]


@cache
def _documents() -> dict[str, Any]:
    return {
        path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(GAZETTEER.glob("*.yaml"))
        if path not in (BLOCKERS, FRAMING)
    }


@cache
def _entries() -> tuple[Entry, ...]:
    return tuple(
        Entry(name, data) for name, doc in _documents().items() for data in doc["entities"]
    )


def _by_id() -> dict[str, Entry]:
    return {entry.id: entry for entry in _entries()}


def _of_type(kind: str) -> list[Entry]:
    return [e for e in _entries() if e.data["type"] == kind]


def _key(term: str) -> str:
    return unicodedata.normalize("NFKC", term).casefold()


def test_the_files_are_the_five_known_ones_each_a_list_of_entities() -> None:
    assert sorted(_documents()) == sorted(FILE_TYPES)
    for name, doc in _documents().items():
        assert isinstance(doc, dict), f"rules/entities/{name}: the top level must be a mapping"
        assert list(doc) == ["entities"], f"rules/entities/{name}: one key, entities:"
        assert isinstance(doc["entities"], list), f"rules/entities/{name}: entities is a list"


def test_entries_have_the_required_keys_and_lists_of_strings() -> None:
    for entry in _entries():
        data = entry.data
        assert isinstance(data, dict), f"{entry.where()}: an entry is a mapping"
        unknown = set(data) - {"id", "type", "name", "owner", "every_state_has_one", *LIST_KEYS}
        assert not unknown, f"{entry.where()}: unknown keys {sorted(unknown)}"
        assert isinstance(data.get("every_state_has_one", False), bool), entry.where()
        for key in ("id", "type", "name"):
            assert isinstance(data.get(key), str) and data[key], f"{entry.where()}: needs {key}"
        for key in LIST_KEYS:
            values = data.get(key, [])
            assert isinstance(values, list), f"{entry.where()}: {key} must be a list"
            for value in values:
                assert isinstance(value, str), f"{entry.where()}: {key} has {value!r}"


def test_ids_are_well_formed_unique_and_match_type_and_file() -> None:
    seen: dict[str, str] = {}
    for entry in _entries():
        kind = entry.data["type"]
        assert kind == FILE_TYPES[entry.file], f"{entry.where()}: type {kind} in the wrong file"
        prefix = ID_PREFIX[kind]
        slug = "[a-z]{2}" if kind == "country" else "[a-z0-9]+(-[a-z0-9]+)*"
        assert re.fullmatch(f"{prefix}:{slug}", entry.id), f"{entry.where()}: malformed id"
        assert entry.id not in seen, f"{entry.where()}: id already used in {seen[entry.id]}"
        seen[entry.id] = entry.file


def test_the_un_member_list_in_this_test_has_193_codes() -> None:
    assert len(UN_MEMBERS) == 193
    assert not UN_MEMBERS & ALSO_COUNTRIES


def test_countries_are_the_un_members_taiwan_hong_kong_macau_and_the_observers() -> None:
    codes = {e.id.removeprefix("country:") for e in _of_type("country")}
    assert sorted((UN_MEMBERS | ALSO_COUNTRIES) - codes) == [], "missing countries"
    assert sorted(codes - UN_MEMBERS - ALSO_COUNTRIES) == [], "unexpected countries"


def test_the_ids_that_rules_refer_to_exist() -> None:
    assert sorted(set(REQUIRED_IDS) - set(_by_id())) == []


def test_countries_and_regions_have_english_and_chinese_names() -> None:
    for entry in [*_of_type("country"), *_of_type("region")]:
        assert entry.terms("names", "exact"), f"{entry.where()}: no English name"
        assert entry.terms("zh"), f"{entry.where()}: no Chinese name"


def test_every_entity_has_a_chinese_name() -> None:
    missing = [e.id for e in _entries() if not e.terms("zh")]
    assert missing == []


def test_the_display_name_is_listed_as_a_name_or_an_exact_term() -> None:
    # So that how the display name is matched (case-insensitively or not) is decided
    # in the data: an English word like Chad is listed in exact only.
    for entry in _entries():
        name = entry.data["name"]
        loose = {_key(t) for t in entry.terms("names")}
        assert _key(name) in loose or name in entry.terms("exact"), entry.where()


def test_terms_are_trimmed_and_already_nfkc_normal() -> None:
    for entry in _entries():
        for term in [entry.data["name"], *entry.terms(*LIST_KEYS)]:
            assert term == term.strip() and term, f"{entry.where()}: {term!r} has spaces"
            normal = unicodedata.normalize("NFKC", term)
            assert term == normal, f"{entry.where()}: write {term!r} as {normal!r}"


def test_chinese_terms_are_chinese_and_english_terms_are_not() -> None:
    for entry in _entries():
        for term in entry.terms("zh"):
            assert _CJK.search(term), f"{entry.where()}: zh term {term!r} has no Chinese"
        for term in [entry.data["name"], *entry.terms(*LOOSE_KEYS, "exact")]:
            assert not _CJK.search(term), f"{entry.where()}: {term!r} belongs in zh"


def test_no_chinese_term_is_a_single_character() -> None:
    for entry in _entries():
        short = [t for t in entry.terms("zh") if len(_CJK.findall(t)) < 2]
        assert short == [], f"{entry.where()}: one-character zh terms {short}"


def test_forbidden_chinese_terms_are_absent() -> None:
    for entry in _entries():
        for term in entry.terms("zh"):
            assert term not in FORBIDDEN_ZH, f"{entry.where()}: {term}: {FORBIDDEN_ZH[term]}"


def test_the_central_african_republic_is_not_called_zhongfei() -> None:
    assert "中非" not in _by_id()["country:cf"].terms("zh")
    assert "中非共和国" in _by_id()["country:cf"].terms("zh")


def test_common_english_words_are_never_matched_case_insensitively() -> None:
    for entry in _entries():
        loose = {_key(t) for t in entry.terms(*LOOSE_KEYS)}
        assert not loose & COMMON_WORDS, f"{entry.where()}: move {loose & COMMON_WORDS} to exact"


def test_exact_terms_are_not_also_listed_case_insensitively() -> None:
    loose = {_key(t) for e in _entries() for t in e.terms(*LOOSE_KEYS)}
    for entry in _entries():
        both = [t for t in entry.terms("exact") if _key(t) in loose]
        assert both == [], f"{entry.where()}: {both} is also a case-insensitive term"


def test_no_term_names_two_entities_unless_allowed() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for entry in _entries():
        for term in [entry.data["name"], *entry.terms(*LOOSE_KEYS, "exact", "zh")]:
            owners[_key(term)].add(entry.id)
    shared = {term: ids for term, ids in owners.items() if len(ids) > 1}
    for term, ids in shared.items():
        allowed, _reason = SHARED_TERMS.get(term, (frozenset(), ""))
        assert ids <= allowed, f"{term!r} names {sorted(ids)}: keep one or allow it here"


def test_members_are_on_regions_only_and_refer_to_existing_ids() -> None:
    known = _by_id()
    for entry in _entries():
        members = entry.terms("members")
        if entry.data["type"] != "region":
            assert members == [], f"{entry.where()}: only regions have members"
        assert len(members) == len(set(members)), f"{entry.where()}: duplicate members"
        unknown = [m for m in members if m not in known or m == entry.id]
        assert unknown == [], f"{entry.where()}: unknown members {unknown}"


def test_sub_regions_lie_within_their_parents() -> None:
    known = _by_id()
    for child, parent in REGION_PARENTS.items():
        outside = set(known[child].terms("members")) - set(known[parent].terms("members"))
        assert outside == set(), f"{child} has members outside {parent}: {sorted(outside)}"


@pytest.mark.parametrize(("region", "size"), sorted(REGION_SIZES.items()))
def test_region_sizes(region: str, size: int) -> None:
    assert len(_by_id()[region].terms("members")) == size


# Texts and the entities that a longest-name matcher (DESIGN.md: Latin terms at word
# boundaries, CJK terms as substrings, a name inside a longer name dropped) finds.
CONTAINMENT_CASES = [
    ("索马里", {"country:so"}),
    ("马里", {"country:ml"}),
    ("南苏丹和苏丹", {"country:ss", "country:sd"}),
    ("巴布亚新几内亚", {"country:pg"}),
    ("赤道几内亚", {"country:gq"}),
    ("几内亚比绍", {"country:gw"}),
    ("几内亚湾", {"region:gulf-of-guinea"}),
    ("刚果\uff08金\uff09", {"country:cd"}),
    ("刚果民主共和国", {"country:cd"}),
    ("刚果\uff08布\uff09", {"country:cg"}),
    ("尼日利亚", {"country:ng"}),
    ("尼日尔", {"country:ne"}),
    ("多米尼加", {"country:do"}),
    ("多米尼克", {"country:dm"}),
    ("罗马尼亚", {"country:ro"}),
    ("白俄罗斯", {"country:by"}),
    ("北爱尔兰", {"country:gb"}),
    ("印度尼西亚", {"country:id"}),
    ("印度洋", {"region:indian-ocean"}),
    ("内蒙古", {"country:cn"}),
    ("约旦河西岸", {"country:ps"}),
    ("文莱苏丹", {"country:bn"}),
    ("阿曼苏丹国", {"country:om"}),
    ("朝鲜半岛", {"region:korean-peninsula"}),
    ("东南亚", {"region:southeast-asia"}),
    ("欧美国家", {"region:the-west"}),
    ("拉美国家", {"region:latin-america"}),
    ("中非合作论坛", {"org:focac"}),
    ("中非关系", set()),
    ("公安部", {"org:mps"}),
    ("公安部门", {"org:public-security-organs"}),
    ("国家安全部门", {"org:state-security-organs"}),
    ("全球安全倡议概念文件", {"initiative:gsi-concept-paper"}),
    ("沿海地区", set()),
    ("执法方面", set()),
    ("马上合作", set()),
    ("其中共有", set()),
    ("大马路", set()),
    ("包罗万象", set()),
    ("People's Republic of China", {"country:cn"}),
    ("Republic of China", {"country:tw"}),
    ("Democratic Republic of the Congo", {"country:cd"}),
    ("Republic of the Congo", {"country:cg"}),
    ("Democratic People's Republic of Korea", {"country:kp"}),
    ("Papua New Guinea and Guinea-Bissau", {"country:pg", "country:gw"}),
    ("Central African Republic", {"country:cf"}),
    ("Niger Delta", {"country:ng"}),
    ("Indian Ocean", {"region:indian-ocean"}),
    ("New Mexico", {"country:us"}),
    ("Inner Mongolia", {"country:cn"}),
    ("Latin America", {"region:latin-america"}),
    ("Pacific Islands Forum", {"org:pif"}),
    ("Sudan People's Liberation Army", {"country:ss"}),
    ("Turkey and Chad", {"country:tr", "country:td"}),
    ("turkey and chad for dinner", set()),
    ("polish the guinea pig, the male one", set()),
    ("MPs debated", set()),
    ("the MPS said", {"org:mps"}),
    ("a summit in Xi'an", set()),
]


@cache
def _patterns() -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(kind, pattern, entity id) for every term: loose, exact or zh.

    The display name is not added: it is matched as the list it is listed in.
    """
    found: list[tuple[str, re.Pattern[str], str]] = []
    for entry in _entries():
        found.extend(("loose", _word(_key(t)), entry.id) for t in entry.terms(*LOOSE_KEYS))
        found.extend(("exact", _word(term), entry.id) for term in entry.terms("exact"))
        found.extend(("zh", re.compile(re.escape(_key(t))), entry.id) for t in entry.terms("zh"))
    return tuple(found)


def _word(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W_]){re.escape(term)}(?![^\W_])")


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    texts = {"loose": _key(text), "exact": unicodedata.normalize("NFKC", text)}
    texts["zh"] = texts["loose"]
    for kind, pattern, entity in _patterns():
        for match in pattern.finditer(texts[kind]):
            yield match.start(), match.end(), entity


def _longest(spans: Iterable[tuple[int, int, str]]) -> set[str]:
    spans = list(spans)
    return {
        entity
        for start, end, entity in spans
        if not any(s <= start and end <= e and e - s > end - start for s, e, _ in spans)
    }


@pytest.mark.parametrize(("text", "expected"), CONTAINMENT_CASES)
def test_longest_names_resolve_containment_traps(text: str, expected: set[str]) -> None:
    assert _longest(_spans(text)) == expected


# --- blockers.yaml: ordinary words that straddle entity names (README.md here)


@cache
def _blocker_groups() -> tuple[dict[str, Any], ...]:
    doc = yaml.safe_load(BLOCKERS.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and list(doc) == ["blockers"], f"{BLOCKERS}: one key, blockers:"
    assert isinstance(doc["blockers"], list), f"{BLOCKERS}: blockers is a list"
    return tuple(doc["blockers"])


def _all_names() -> set[str]:
    return {
        _key(term)
        for entry in _entries()
        for term in [entry.data["name"], *entry.terms(*LOOSE_KEYS, "exact", "zh")]
    }


def test_blocker_groups_have_a_name_words_and_texts() -> None:
    for number, group in enumerate(_blocker_groups()):
        where = f"rules/entities/blockers.yaml, group {number} ({group.get('hides')})"
        assert set(group) <= {"hides", "words", "examples", "keeps"}, where
        assert isinstance(group.get("hides"), str), f"{where}: needs hides"
        assert _key(group["hides"]) in _all_names(), f"{where}: hides is not an entity name"
        for key in ("words", "examples", "keeps"):
            values = group.get(key, [])
            assert isinstance(values, list), f"{where}: {key} must be a list"
            assert all(isinstance(v, str) and v == v.strip() and v for v in values), where
        assert group["words"], f"{where}: no words"
        assert group.get("examples"), f"{where}: show the trap with an example"


def test_blockers_are_ordinary_words_not_names() -> None:
    names = _all_names()
    words = [w for group in _blocker_groups() for w in group["words"]]
    assert len(words) == len({_key(w) for w in words}), "a blocker word is listed twice"
    for word in words:
        assert _key(word) not in names, f"blockers.yaml: {word!r} is an entity name"
        assert len(word) >= 2, f"blockers.yaml: {word!r} is too short"
        assert word == unicodedata.normalize("NFKC", word), f"blockers.yaml: {word!r} is not NFKC"


def test_blocker_examples_and_keeps_contain_the_name_they_test() -> None:
    # tests/test_match.py runs them through the matcher; here they must at least be about
    # the name: an example without it would pass without testing anything.
    for group in _blocker_groups():
        for text in [*group["examples"], *group.get("keeps", [])]:
            assert _key(group["hides"]) in _key(text), f"blockers.yaml: {text!r}"
