"""Benchmark: matching cost per character, long HTML text against plain text.

    .venv/bin/python bench/match_text.py [--words 1000] [--repeats 5]

Builds a news-like HTML entry of --words words (paragraphs, links, `&nbsp;`, curly quotes,
dashes, ellipses, accented names: what real descriptions and `content:encoded` carry),
turns it into plain text as the parser does (`feeds.text.html_to_text`), and times, with
the default rules, on that text and on the same words in plain ASCII and on a 30-word
plain summary like bench/poll.py's:

  normalise           `rules.normalise.normalise` alone
  normalise + scan    normalisation and the automaton pass over the text (`RuleSet._scan`)
  match               all of `RuleSet.match` (the rules the hits wake are evaluated too)

as CPU nanoseconds per character (median of --repeats), with the ratio to plain text.
The target (issue 14, item 3): normalise + scan on the long HTML text within a small
multiple of the plain-text cost per character.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.feeds.text import html_to_text
from monitor.rules.matcher import RuleSet, load_ruleset
from monitor.rules.normalise import normalise

WORDS = (
    "minister talks trade port officials said the government of would on in a to and "
    "security police cooperation agreement signed market court election budget energy "
    "railway harvest summit investors shares reform plan week year city region border"
).split()
NAMES = ["São Paulo", "Zürich", "Bogotá", "Kraków", "Malé", "Beijing", "Honiara", "Suva"]
STUB_WORDS = "minister talks trade port weather market court school festival railway".split()


def html_entry(rng: random.Random, words: int) -> str:
    """Paragraphs of sentences with the marks and markup of real feed HTML."""
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            chosen = rng.choices(WORDS, k=rng.randint(8, 18))
            chosen.insert(rng.randrange(len(chosen)), rng.choice(NAMES))
            count += len(chosen)
            text = " ".join(chosen).capitalize()
            shape = rng.random()
            if shape < 0.3:
                text = f"\u201c{text},\u201d {rng.choice(NAMES)}\u2019s minister said."
            elif shape < 0.5:
                text = f"{text} \u2014 a move analysts called \u2018unusual\u2019\u2026"
            else:
                text = f"{text}&nbsp;({rng.randint(1990, 2030)}\u2013{rng.randint(1, 99)})."
            sentences.append(text)
        link = f'<a href="/news/{rng.randint(1, 10**6)}">{rng.choice(WORDS)}</a>'
        paragraphs.append(f"<p>{' '.join(sentences)} {link}</p>")
    return "".join(paragraphs)


def ns_per_char(work: Callable[[str], object], text: str, repeats: int) -> float:
    rounds = max(1, 200_000 // len(text))
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(rounds):
            work(text)
        samples.append((time.process_time() - start) / rounds / len(text) * 1e9)
    return statistics.median(samples)


def stages(rules: RuleSet) -> dict[str, Callable[[str], object]]:
    return {
        "normalise": normalise,
        "normalise + scan": lambda text: rules._scan({"title": "", "summary": text}),
        "match": lambda text: rules.match("", text),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(14)
    long_html = html_to_text(html_entry(rng, args.words))
    texts = {
        f"{args.words}-word HTML entry": long_html,
        "the same words, plain ASCII": long_html.encode("ascii", "ignore").decode(),
        "30-word plain summary": " ".join(rng.choices(STUB_WORDS, k=30)),
    }
    rules = load_ruleset(ROOT / "rules")
    for text in texts.values():  # warm the per-character caches
        rules.match("", text)
    print("CPU ns per character, default rules, median of", args.repeats)
    header = "".join(f"{name:>20}" for name in stages(rules))
    print(f"{'text':34} {'chars':>6}{header}")
    figures = {
        label: [ns_per_char(work, text, args.repeats) for work in stages(rules).values()]
        for label, text in texts.items()
    }
    for label, text in texts.items():
        row = "".join(f"{value:20.1f}" for value in figures[label])
        print(f"{label:34} {len(text):6}{row}")
    long, plain = figures[f"{args.words}-word HTML entry"], figures["30-word plain summary"]
    ratios = "".join(f"{a / b:19.2f}x" for a, b in zip(long, plain, strict=True))
    print(f"{'ratio, HTML entry / plain summary':34} {'':6}{ratios}")


if __name__ == "__main__":
    main()
