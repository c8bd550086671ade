"""Benchmark: matcher throughput against the number of rules.

    .venv/bin/python bench/match.py [--entries 50000] [--repeats 3] [--rules 3,100,1000,10000]
                                    [--no-parties]

Rules are generated (deterministically, seeded) from a generated vocabulary plus the
real gazetteer in rules/entities (with its framing cues); so are the entries (English
and Chinese, some with rule terms and entity names in them). Each rule has a parties
block (its entities a party to its words, in the same clause and not framed) that a
third of the conditions need; --no-parties leaves it out. Prints, per rule count, the
time to build the rule set and the median entries/s over the repeats, with the ratio to
the smallest rule count. Targets: >= 20,000 entries/s on one core, and at 1,000 rules at
least half the throughput of 3 rules, with party checks on.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from monitor.rules.condition import parse_condition
from monitor.rules.gazetteer import Gazetteer, load_gazetteer
from monitor.rules.loading import (
    DetectionBlock,
    EntityBlock,
    KeywordBlock,
    NearBlock,
    PartiesBlock,
    Rule,
    Term,
)
from monitor.rules.matcher import RuleSet

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240917
FIELDS = ("title", "summary")
SYLLABLES = "ka ri to me su na lo vi de pa mo ze chu lan qi ber tor vel sin gar".split()
FILLER = (
    "the a of to and in on for with from by at said will new year officials government "
    "minister report city week people plan said talks market local state public first"
).split()
CJK_FILLER = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就"
    "分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经"
)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def entity_names(gazetteer: Gazetteer) -> tuple[list[str], list[str]]:
    latin, chinese = [], []
    for entity in gazetteer.entities.values():
        for term in entity.terms:
            (chinese if "\u4e00" <= term[0] <= "\u9fff" else latin).append(term)
    return sorted(latin), sorted(chinese)


def make_rule(
    rng: random.Random, index: int, vocab: list[str], gazetteer: Gazetteer, parties: bool
) -> Rule:
    terms = tuple(
        Term(word, stem=rng.random() < 0.2) if len(word) >= 4 else Term(word)
        for word in rng.sample(vocab, 3)
    )
    ids = sorted(gazetteer.entities)
    entity_ids = frozenset(rng.sample(ids, 3))
    blocks: tuple[DetectionBlock, ...] = (
        KeywordBlock("words", FIELDS, terms),
        EntityBlock("places", FIELDS, entity_ids),
        KeywordBlock("more", FIELDS, (Term(rng.choice(vocab)),)),
        NearBlock("close", FIELDS, "words", "places", 8),
    )
    conditions = ["words and places", "close or (more and places)", "1 of words*"]
    if parties:
        blocks = (*blocks, PartiesBlock("party", FIELDS, "places", ("words", "more")))
        conditions = ["party and words", "close or (more and party)", "1 of words*"]
    condition = rng.choice(conditions)
    return Rule(
        id=f"bench-{index:05d}",
        title=f"Generated rule {index}",
        description="",
        level=rng.choice(["info", "low", "medium", "high"]),
        tags=(),
        blocks=blocks,
        condition=parse_condition(condition, [b.name for b in blocks]),
        condition_text=condition,
        tests=(),
        version=f"{index:012d}",
        path=Path(f"bench-{index:05d}.yaml"),
    )


def make_entry(
    rng: random.Random, vocab: list[str], latin: list[str], chinese: list[str]
) -> tuple[str, str]:
    if rng.random() < 0.2:

        def zh(n: int) -> str:
            chars = [rng.choice(CJK_FILLER) for _ in range(n)]
            for _ in range(rng.randint(0, 2)):
                chars.insert(rng.randrange(len(chars)), rng.choice(chinese))
            return "".join(chars)

        return zh(rng.randint(12, 24)), zh(rng.randint(40, 90))

    def en(n: int) -> str:
        words = [rng.choice(FILLER) for _ in range(n)]
        for _ in range(rng.randint(0, 2)):
            words.insert(rng.randrange(len(words)), rng.choice(vocab))
        for _ in range(rng.randint(0, 2)):
            words.insert(rng.randrange(len(words)), rng.choice(latin))
        return " ".join(words).capitalize() + "."

    return en(rng.randint(6, 14)), en(rng.randint(25, 50))


def throughput(ruleset: RuleSet, entries: list[tuple[str, str]]) -> tuple[float, int]:
    matched = 0
    start = time.perf_counter()
    for title, summary in entries:
        matched += len(ruleset.match(title, summary).rules)
    return len(entries) / (time.perf_counter() - start), matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rules", default="3,100,1000,10000")
    parser.add_argument("--no-parties", action="store_true", help="rules without party checks")
    args = parser.parse_args()
    gazetteer = load_gazetteer(ROOT / "rules" / "entities")
    rng = random.Random(SEED)
    vocab = vocabulary(rng, 20_000)
    latin, chinese = entity_names(gazetteer)
    entries = [make_entry(rng, vocab, latin, chinese) for _ in range(args.entries)]
    print(
        f"{len(entries)} entries, {len(gazetteer.entities)} gazetteer entities, "
        f"median of {args.repeats} runs, party checks {'off' if args.no_parties else 'on'}"
    )
    print(f"{'rules':>7} {'build s':>8} {'entries/s':>10} {'ratio':>6} {'matches/entry':>14}")
    throughput(RuleSet([], gazetteer), entries)  # warm the per-character caches
    baseline = None
    for count in (int(n) for n in args.rules.split(",")):
        rule_rng = random.Random(SEED + count)
        rules = [
            make_rule(rule_rng, i, vocab, gazetteer, not args.no_parties) for i in range(count)
        ]
        start = time.perf_counter()
        ruleset = RuleSet(rules, gazetteer)
        build = time.perf_counter() - start
        runs = [throughput(ruleset, entries) for _ in range(args.repeats)]
        rate = statistics.median(r for r, _ in runs)
        baseline = baseline or rate
        per_entry = runs[0][1] / len(entries)
        print(f"{count:>7} {build:>8.2f} {rate:>10,.0f} {rate / baseline:>6.2f} {per_entry:>14.2f}")


if __name__ == "__main__":
    main()
