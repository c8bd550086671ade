"""The kinds of act a matched text reports: training, agreement, donation, joint operation,
forum, station; and whether a training is done or pledged.

Words per kind, English and Chinese, looked for in the clauses where the parties and the
quantities of a match are (monitor.rules.findings). Patterns on the folded text
(monitor.rules.normalise: lower case, simplified Chinese).
"""

from __future__ import annotations

import re

_EN = r"(?<![a-z])(?:{})(?![a-z])"
_ACTS: dict[str, tuple[str, str]] = {  # kind -> (English, Chinese)
    "training": (
        r"train(?:s|ed|ing|ers?|ees?)?|courses?|cadets?|instructors?|scholarships?|seminars?"
        r"|workshops?|academ(?:y|ies)|police (?:advis[eo]rs?|consultants?)"
        r"|(?:advis[eo]ry|liaison) team",
        r"培训|研修|进修|受训|参训|学员|教官|训练|授课|警务顾问|警务专家|留学",
    ),
    "agreement": (
        r"agreements?|accords?|pacts?|treat(?:y|ies)|mou|mous|memorand(?:um|a)"
        r"|sign(?:s|ed|ing)?|deals?",
        r"协议|协定|备忘录|签署|签订|条约|签约",
    ),
    "donation": (
        r"donat(?:e|es|ed|ing|ion|ions)|gifts?|gifted|handed over|hands? over|handover"
        r"|equipment|aid|funded|built",
        r"捐赠|捐助|赠送|援助|移交|援建|交付",
    ),
    "joint-operation": (
        r"joint (?:patrols?|operations?|exercises?|drills?|investigations?|law enforcement)"
        r"|patrols?|crackdowns?|arrest(?:s|ed)?|extradit(?:e|ed|ion)|repatriat(?:e|ed|ion)"
        r"|deport(?:ed|ation)",
        r"联合巡逻|联合巡航|联合行动|联合演习|联合执法|联合打击|联合侦查|抓获|遣返|押解|引渡|巡逻",
    ),
    "forum": (
        r"forums?|summits?|conferences?|dialogues?|ministerial meeting",
        r"论坛|峰会|会议|对话|部长级会议",
    ),
    "station": (
        r"police (?:service )?stations?|service (?:stations?|cent(?:er|re)s?)"
        r"|overseas (?:police )?stations?|110 overseas",
        r"警务站|服务站|服务中心|海外110|海外警察",
    ),
}
_PATTERNS = {
    kind: re.compile(f"{_EN.format(english)}|{chinese}")
    for kind, (english, chinese) in _ACTS.items()
}
KINDS: tuple[str, ...] = tuple(_ACTS)


def act_kinds(folded: str, start: int, end: int) -> list[str]:
    """The kinds of act named in folded[start:end], in the order their words appear."""
    found = []
    for kind, pattern in _PATTERNS.items():
        match = pattern.search(folded, start, end)
        if match:
            found.append((match.start(), kind))
    return [kind for _, kind in sorted(found)]


# Words that say a training was given ("has trained", 已培训, 培训了) or is pledged ("will
# train", "plans to", "offered", 将, 计划).
_DONE = (
    r"(?<![a-z])(?:trained|graduated|completed|attended)(?![a-z])"
    r"|已|培训了|累计|共培训|去年|此前|先后"
)
_PLEDGED = (
    r"(?<![a-z])(?:will|to train|plans?|pledged?|promised?|offer(?:s|ed)?|would)(?![a-z])"
    r"|将|拟|计划|愿|明年|未来|今后|再培训"
)
_STATUS = re.compile(f"(?P<done>{_DONE})|(?P<pledged>{_PLEDGED})")


def status(folded: str, clause: tuple[int, int], at: int) -> str:
    """ "done" or "pledged" for a quantity at `at`, by the nearest word before it in its
    clause that says which (or the first after it); "" when none does."""
    start, end = clause
    before = list(_STATUS.finditer(folded, start, at))
    word = before[-1] if before else _STATUS.search(folded, at, end)
    if word is None:
        return ""
    return "done" if word.group("done") else "pledged"
