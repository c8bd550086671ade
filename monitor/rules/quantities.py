"""Quantities with their unit in a normalised field: "3,000 foreign officers", 3000名执法人员,
"5,000 training opportunities", "VT50M of equipment", 500万元.

Found by patterns on the folded text (monitor.rules.normalise), for the structured records
of a match (monitor.rules.findings). Kinds: `people` (officers, police, trainees; 名, 人),
`places` (training opportunities, places, scholarships; 名额), `courses` (courses,
sessions; 期 of a training), `items` (vehicles, drones, uniforms; 辆, 台, 套) and `money`
(a currency before or after the amount). A number whose unit is left out ("plans to
train an additional 3,000") takes the unit of the quantity before it in its sentence.
Years, dates, ordinals and bare numbers are not quantities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RawQuantity:
    """A quantity in normalised offsets of one field."""

    amount: float
    unit: str  # "officers", "training opportunities", "VT", "名"
    kind: str  # "people" | "places" | "courses" | "items" | "money"
    start: int
    end: int


_UNIT_WORDS = {
    "people": "officer officers official officials police policemen policewomen personnel"
    " cadet cadets trainee trainees student students recruit recruits investigator"
    " investigators agent agents expert experts adviser advisers advisor advisors consultant"
    " consultants instructor instructors trainer trainers people participants commander"
    " commanders staff guard guards cop cops peacekeeper peacekeepers detective detectives"
    " constable constables prosecutors judges",
    "places": "opportunities places slots scholarships",
    "courses": "course courses sessions programmes programs workshops seminars classes",
    "items": "vehicles cars motorcycles motorbikes trucks drones boats computers laptops"
    " uniforms radios cameras",
}
_UNCOUNTED = ("s", "people", "police", "personnel", "staff")


def _units() -> dict[str, tuple[str, str]]:
    """Unit word -> (the unit as recorded, in the plural; its kind)."""
    return {
        word: (word if word.endswith(_UNCOUNTED) else f"{word}s", kind)
        for kind, words in _UNIT_WORDS.items()
        for word in words.split()
    }


_UNITS = _units()
# Words that may stand between a number and its unit ("3,000 foreign law enforcement
# officers", "1,000 more police officers"): any word but these, at most four.
_NOT_MODIFIERS = frozenset(
    "of in on at to for from by with and or the a an per each who that which were was are is"
    " have has had will would over under during since this last next years year months month"
    " days day weeks times percent countries nations states km".split()
)
# Words inside a compound unit after its first unit word ("police enforcement officers").
_COMPOUND_MIDDLES = frozenset("enforcement law security public protection special border".split())
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALES = {"million": 1e6, "billion": 1e9, "thousand": 1e3, "m": 1e6, "mn": 1e6, "bn": 1e9}
_AMOUNT = re.compile(rf"(?<![\w.,])({_NUMBER})(?:\s?(million|billion|thousand)\b)?(?![.,]?\d)")
_MONEY_BEFORE = re.compile(
    r"(?<![a-z])(us\$|a\$|nz\$|fj\$|hk\$|s\$|\$|€|£|¥|usd|aud|nzd|eur|rmb|cny|vt|pgk|fjd|sbd|k)"
    rf"\s?({_NUMBER})(?:\s?(million|billion|mn|bn|m)\b)?"
)
_MONEY_AFTER = re.compile(r"\s?(yuan|renminbi|rmb|us dollars|dollars|vatu|kina|euros|pounds)\b")
_MONEY_FOR = re.compile(  # "VT50M of equipment", "$2 million worth of vehicles"
    r"\s+(?:worth\s+)?of\s+(?:[a-z-]+\s+){0,2}"
    r"(?:equipment|vehicles|aid|assistance|supplies|gear|uniforms|materials|funding)\b"
)
_WORD = re.compile(r"\s+(?:-\s*)?([a-z][a-z'-]*)")
_ELLIPSIS_BEFORE = re.compile(r"(?:additional|another|further|other)\s+$")
_SENTENCE_END = re.compile(r"[.!?;。](?:\s|$)")  # folded: NFKC made full-width marks ASCII


def find_quantities(folded: str) -> list[RawQuantity]:
    """Every quantity in a folded field, in text order."""
    if not _ANY_NUMBER.search(folded):
        return []  # most texts: no digit and no Chinese numeral
    return sorted(_english(folded) + _chinese(folded), key=lambda q: q.start)


def _english(text: str) -> list[RawQuantity]:
    found = [
        _money_before(text, match)
        for match in _MONEY_BEFORE.finditer(text)
        if match.group(1) != "k" or match.group(3)  # K5 million (kina), not "k5"
    ]
    for match in _AMOUNT.finditer(text):
        if any(q.start <= match.start() < q.end for q in found):
            continue  # the amount of a sum already found
        quantity = _money_after(text, match) or _counted(text, match)
        quantity = quantity or _elided(text, match, found)
        if quantity is not None:
            found.append(quantity)
            found.sort(key=lambda q: q.start)
    return found


def _amount(number: str, scale: str | None) -> float:
    return float(number.replace(",", "")) * _SCALES.get(scale or "", 1.0)


def _money_before(text: str, match: re.Match[str]) -> RawQuantity:
    currency, number, scale = match.groups()
    purpose = _MONEY_FOR.match(text, match.end())
    end = purpose.end() if purpose else match.end()
    return RawQuantity(_amount(number, scale), currency.upper(), "money", match.start(), end)


def _money_after(text: str, match: re.Match[str]) -> RawQuantity | None:
    currency = _MONEY_AFTER.match(text, match.end())
    if currency is None:
        return None
    amount = _amount(match.group(1), match.group(2))
    return RawQuantity(amount, currency.group(1), "money", match.start(), currency.end())


def _counted(text: str, match: re.Match[str]) -> RawQuantity | None:
    """A number followed, after at most four modifiers, by a unit word (the last of a run:
    "1,000 African police officers" counts officers)."""
    number, scale = match.groups()
    if scale is None and _looks_like_a_year(number):
        return None
    position = match.end() + (text[match.end() : match.end() + 1] == "+")  # 3,000+ officers
    words: list[str] = []
    found: RawQuantity | None = None
    for _ in range(5):
        word = _WORD.match(text, position)
        if word is None or word.group(1) in _NOT_MODIFIERS:
            break
        if word.group(1) in _UNITS and not _is_modifier(text, word):
            unit, kind = _UNITS[word.group(1)]
            if kind == "places" and words and words[-1] == "training":
                unit = f"training {unit}"
            found = RawQuantity(_amount(number, scale), unit, kind, match.start(), word.end())
        elif found is not None and word.group(1) not in _COMPOUND_MIDDLES:
            break
        words.append(word.group(1))
        position = word.end()
    return found


def _is_modifier(text: str, word: re.Match[str]) -> bool:
    """'police' before a noun is an adjective: "100 police stations" counts stations."""
    following = _WORD.match(text, word.end())
    return (
        word.group(1) == "police"
        and following is not None
        and following.group(1) not in _NOT_MODIFIERS
        and following.group(1) not in _UNITS
        and following.group(1) not in _COMPOUND_MIDDLES
    )


def _looks_like_a_year(number: str) -> bool:
    return "," not in number and "." not in number and 1900 <= int(number) <= 2100


def _elided(text: str, match: re.Match[str], found: list[RawQuantity]) -> RawQuantity | None:
    """'trained 2,700 officers ... and plans to train an additional 3,000': the unit before."""
    before = [q for q in found if q.end <= match.start()]
    if not before or not _ELLIPSIS_BEFORE.search(text, max(0, match.start() - 12), match.start()):
        return None
    previous = before[-1]
    if previous.kind == "money" or _SENTENCE_END.search(text, previous.end, match.start()):
        return None
    amount = _amount(*match.groups())
    return RawQuantity(amount, previous.unit, previous.kind, match.start(), match.end())


_ANY_NUMBER = re.compile(r"[0-9零\u3007一二两三四五六七八九十百千]")


# --- Chinese ------------------------------------------------------------------------------

_ZH_DIGITS = {"零": 0, "\u3007": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip
_ZH_TENS = {"十": 10, "百": 100, "千": 1000}
_ZH_CLASSIFIERS: dict[str, tuple[str, str]] = {
    "名": ("名", "people"),
    "人次": ("人次", "people"),
    "人": ("人", "people"),
    "位": ("位", "people"),
    "个培训名额": ("培训名额", "places"),
    "个名额": ("名额", "places"),
    "个培训班": ("培训班", "courses"),
    "期": ("期", "courses"),
    "辆": ("辆", "items"),
    "台": ("台", "items"),
    "套": ("套", "items"),
    "美元": ("美元", "money"),
    "元": ("元", "money"),
}
_ZH_QUANTITY = re.compile(
    r"(?<!第)(\d+(?:,\d{3})*(?:\.\d+)?|[零\u3007一二两三四五六七八九十百千]+)(万|亿)?(?:余|多)?("
    + "|".join(sorted(map(re.escape, _ZH_CLASSIFIERS), key=len, reverse=True))
    + ")"
)
# Who a head count is (3000名执法人员, 2700余名外国警官), kept in its text.
_ZH_PEOPLE = re.compile(r"[\u4e00-\u9fff]{0,6}?(?:人员|警察|警官|警员|民警|学员|官员|干部|专家)")
# 期 counts trainings only (3期培训班), not phases (二期工程).
_ZH_TRAINING = re.compile(r"[\u4e00-\u9fff]{0,4}?(?:培训|研修|训练|班)")


def _chinese(text: str) -> list[RawQuantity]:
    found = []
    for match in _ZH_QUANTITY.finditer(text):
        number, big, classifier = match.groups()
        unit, kind = _ZH_CLASSIFIERS[classifier]
        value = _zh_value(number) * {"万": 1e4, "亿": 1e8}.get(big or "", 1.0)
        follows = text[match.end() : match.end() + 1]
        if value < 2 and kind == "people":
            continue  # 一名 is "a", not a count
        if (classifier == "人" and follows == "民") or (
            classifier == "期" and not _ZH_TRAINING.match(text, match.end())
        ):
            continue  # 人民 (the people); 二期工程 (a phase)
        end = match.end()
        if kind == "people":
            who = _ZH_PEOPLE.match(text, end)
            end = who.end() if who else end
        found.append(RawQuantity(value, unit, kind, match.start(), end))
    return found


def _zh_value(number: str) -> float:
    """An Arabic or Chinese numeral (三千, 两百五十, 1,000) as a number."""
    if number[0].isdigit():
        return float(number.replace(",", ""))
    total, current = 0, 0
    for char in number:
        if char in _ZH_DIGITS:
            current = _ZH_DIGITS[char]
        else:
            total += (current or 1) * _ZH_TENS[char]
            current = 0
    return float(total + current)
