# ruff: noqa: RUF001, E501  (hand-written Chinese text; data rows kept one per line)
"""The labelled stories sets, built from the shared material when the tests run.

The shared items (eval/real-items.jsonl, feeds-corpus/) are never copied into the project:
each set is built from them at test time (the tests skip without them), and only what we
wrote ourselves is kept here or in tests/data (copies' headlines, the groups of
independent reports as ids).

dev: the 213 real items of shared/eval/real-items.jsonl, each its own story, plus the
copies other outlets would carry of 40 of them, written the way each kind of copy looks
in real feeds: a Google News search item ("Headline - Outlet", no summary, an opaque
link), the same article through a feed that adds tracking parameters or an AMP link, a
wire reprint under the reprinting outlet's own headline with a dateline, a rewrite (another
headline, the summary lightly edited, by hand), and for Chinese a reprint in traditional
characters. `group` names the story; `kind` the copy. Near misses are the real items
themselves: the same topics and countries, other events (Lianyungang forums of other
years, each Italy or Serbia patrol, Fiji's reviews, the Solomon Islands deal's stages).

holdout: real entries of the shared feed corpus (other subjects, other outlets), built the
same way by `holdout()` with other outlets and datelines; never used to choose thresholds.

events: the real items with the groups of independently written reports of one event
(tests/data/stories_events_groups.jsonl holds the ids and groups only).

To score a set with the CLI: python tests/stories_sets.py ../shared /tmp/stories, then
monitor stories eval /tmp/stories/stories_dev.jsonl
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import opencc

HERE = Path(__file__).parent / "data"
S2T = opencc.OpenCC("s2t")

# Hand-written: another outlet's headline for a wire reprint, and a rewrite (headline, summary).
REPRINTS = {
    "ev006": ("Laos, China agree to deepen security ties", "VIENTIANE (Xinhua) - "),
    "ev047": ("China plans to train thousands of foreign police officers", "LIANYUNGANG, China - "),
    "ev056": ("Beijing to coach 3,000 foreign police officers in 12 months", "BEIJING: "),
    "ev104": ("China says it will train 3,000 foreign police", "LIANYUNGANG (AFP) - "),
    "ev027": ("Vanuatu police to get drones, motorcycles from China", "PORT VILA: "),
    "ev067": ("Vanuatu to sign policing pact with Beijing", "PORT VILA (AFP) - "),
    "ev077": ("Serbian police officers patrol Sanya tourist sites", "SANYA, Sept. 9 (Xinhua) -- "),
    "ev091": ("Honiara confirms policing pact with Beijing", "HONIARA (Reuters) - "),
    "ev113": ("Islamabad rejects Chinese security firm request", "ISLAMABAD: "),
    "ev116": (
        "Chinese police join Italian colleagues on patrol again",
        "ROME, Nov. 6 (Xinhua) -- ",
    ),
    "ev168": ("Rome ends Chinese police patrols after outpost reports", "ROME (Reuters) - "),
    "ev170": ("Solomon Islands officers finish police course in China", "LONDON - "),
    "ev106": ("Beijing to fund Tajik police facility near Afghan border", "DUSHANBE: "),
    "ev040": ("Beijing publishes paper on its Global Security Initiative", "BEIJING (AP) - "),
    "ev084": ("Canberra and Port Moresby seal security pact", "CANBERRA (AFP) - "),
    "ev201": ("China pledges police support to Honiara after Sogavare visit", "BEIJING - "),
}
REWRITES = {
    "ev006": (
        "China and Laos vow closer cooperation on law enforcement",
        "Chinese public security minister Wang Xiaohong and his Lao counterpart Vilay Lakhamphong"
        " pledged cooperation on political security, transnational crime, the security of the"
        " China-Laos Railway and building law enforcement capacity.",
    ),
    "ev056": (
        "China will train 3,000 foreign police officers next year, minister says",
        "China's police chief said Chinese police trained 2,700 foreign officers over the past"
        " year and will coach another 3,000 in the next 12 months, speaking at the Lianyungang"
        " conference, which delegates from 122 countries and Interpol attended.",
    ),
    "ev104": (
        "Wang Xiaohong: China to train thousands of foreign law enforcement officers",
        "China will train thousands of law enforcement officers from other countries in the next"
        " 12 months, Public Security Minister Wang Xiaohong told a conference in Lianyungang that"
        " is seen as part of Beijing's Global Security Initiative, AFP reported.",
    ),
    "ev067": (
        "Vanuatu says it will sign security agreement with China",
        "Vanuatu will sign a police and security agreement with China, the government said after"
        " its interior minister met Wang Xiaohong in Beijing; China is to donate equipment worth"
        " more than 3 million yuan.",
    ),
    "ev091": (
        "Solomon Islands admits signing police deal with China as Canberra voices alarm",
        "Solomon Islands said it had signed a policing cooperation agreement with China, while a"
        " leaked draft of a wider security arrangement would allow China to send police and"
        " military personnel 'to assist in maintaining social order'.",
    ),
    "ev168": (
        "Italy halts joint patrols with Chinese police",
        "Italy will no longer let Chinese police join patrols on its soil after reports of Chinese"
        " 'service stations', the interior minister said; the patrols, under a 2015 agreement,"
        " ran from 2016 to 2019.",
    ),
    "ev170": (
        "Solomon Islands police trained in China under security pact",
        "The first group of 32 Solomon Islands officers has completed a month-long training"
        " programme at a police college in Fujian, covering weapon techniques, VIP protection"
        " and the policing of large events, under the 2022 security cooperation deal.",
    ),
    "ev040": (
        "China unveils Global Security Initiative concept paper",
        "China has released the concept document of its Global Security Initiative through"
        " Xinhua, listing priorities such as support for UN peacekeeping, coordination among the"
        " major powers and non-proliferation; Xi launched the GSI at Boao in April 2022.",
    ),
    "ev084": (
        "PNG and Australia sign deal to boost internal security",
        "The deal between Australia and PNG will boost PNG's internal security through policing,"
        " defence and judicial assistance; PNG signed a defence deal with the US in May and is"
        " expanding trade with China.",
    ),
    "ev113": (
        "Pakistan refuses Chinese request to set up security company",
        "No other country can open a security company in Pakistan, the interior minister said,"
        " after China's Ministry of State Security asked for one following attacks on Chinese"
        " nationals.",
    ),
    "ev004": (
        "王小洪出席全球公共安全合作论坛（连云港）2023年大会开幕式并发表主旨演讲",
        "新华社电：国务委员、公安部部长王小洪在连云港论坛开幕式上表示，中方愿意积极践行全球安全倡议，"
        "同各国分享公共安全治理经验，支持建立全球执法培训体系，开展打击跨国犯罪的区域和全球行动。",
    ),
    "ev073": (
        "王小洪：未来一年中国将再培训约3000名外国警察",
        "公安部部长王小洪在全球公共安全合作论坛2024年大会上宣布，中国警方过去一年培训了2700名外国警察，"
        "未来一年将再培训约3000名，并将向有需要的国家派出警察顾问和工作站。",
    ),
    "ev031": (
        "中塞警务联合巡逻在海南三亚启动",
        "新华社电：应公安部邀请，塞尔维亚内务部选派6名警员来华执行为期一个月的警务联合巡逻任务，"
        "与中国公安民警在海南、浙江等地旅游景区混编巡逻，这是中塞首次在华开展警务联巡。",
    ),
    "ev016": (
        "中老缅泰启动第159次湄公河联合巡逻执法行动",
        "新华社电：中方3艘执法艇从景哈警务码头启航，中老缅泰四国共派出7艘执法艇、100余名执法队员，"
        "开展联合查缉、联合驻训，打击涉毒、涉诈、走私、偷渡等跨境违法犯罪。",
    ),
    "ev188": (
        "2019中柬执法合作年在北京启动",
        "2019年中柬执法合作年在北京启动，国务委员、公安部部长赵克志和柬埔寨副首相兼内政大臣萨肯出席；"
        "北京一所高校与公安部合作培训国际执法联络官13年，已为51个国家培训近400名警官。",
    ),
    "ev107": (
        "云南警官学院迎来老挝、安哥拉等国警务留学生",
        "中新社电：云南警官学院启动2018级警务硕士留学生和老挝本科留学生项目，来自老挝、蒙古国、"
        "坦桑尼亚、安哥拉的20名警务留学生将在此接受培养，服务国际安全执法合作。",
    ),
}
# Plain copies only (a search item, a tracked or AMP link, a traditional-character reprint).
PLAIN_COPIES = ["ev045", "ev062", "ev072", "ev128", "ev017", "ev080", "ev061", "ev095",
                "ev014", "ev136", "ev024", "ev036", "ev178", "ev089", "ev015", "ev187"]  # fmt: skip
EN_OUTLETS = ["Reuters", "The Guardian", "Dawn", "ABC News", "South China Morning Post", "RNZ"]
ZH_OUTLETS = ["新浪网", "凤凰网", "网易新闻", "澎湃新闻"]
TRAD_OUTLETS = ["星島日報", "大公報", "文匯報"]


def opaque(seed: str) -> str:
    return "https://news.google.com/rss/articles/CBMi" + hashlib.sha256(seed.encode()).hexdigest()


def copies(item: dict, n: int) -> list[dict]:
    """The copies of one item, as other feeds would carry them."""
    base = {k: item[k] for k in ("title", "summary", "link", "published", "lang")}
    zh = item["lang"] == "zh"
    outlets = ZH_OUTLETS if zh else EN_OUTLETS
    out = [base | {"title": f"{item['title']} - {outlets[n % len(outlets)]}", "summary": "",
                   "link": opaque(item["id"]), "source": "Google News", "kind": "search"}]  # fmt: skip
    sep = "&" if "?" in item["link"] else "?"
    if n % 2 == 0:
        link = item["link"].split("#")[0] + f"{sep}utm_source=rss&utm_medium=feed#comments"
        out.append(base | {"link": link, "source": "feed with tracking", "kind": "tracked"})
    else:
        link = item["link"].replace("://www.", "://").replace("://", "://amp.", 1)
        out.append(base | {"link": link, "source": "AMP copy", "kind": "amp"})
    if zh:
        trad = {"title": S2T.convert(item["title"]), "summary": S2T.convert(item["summary"])}
        link = f"https://hk.example-news.com/{item['id']}-trad"
        out.append(base | trad | {"link": link, "source": TRAD_OUTLETS[n % 3], "kind": "trad"})
    if item["id"] in REPRINTS:
        title, dateline = REPRINTS[item["id"]]
        link = f"https://reprint{n % 4}.example.com/{item['id']}"
        out.append(base | {"title": title, "summary": dateline + item["summary"], "link": link,
                           "source": outlets[(n + 1) % len(outlets)], "kind": "reprint"})  # fmt: skip
    if item["id"] in REWRITES:
        title, summary = REWRITES[item["id"]]
        link = f"https://rewrite{n % 3}.example.org/{item['id']}"
        out.append(base | {"title": title, "summary": summary, "link": link,
                           "source": outlets[(n + 2) % len(outlets)], "kind": "rewrite"})  # fmt: skip
    return out


def dev(shared: Path) -> list[dict]:
    items = [json.loads(line) for line in (shared / "eval" / "real-items.jsonl").open()]
    chosen = list(dict.fromkeys([*REPRINTS, *REWRITES, *PLAIN_COPIES]))
    rows: list[dict] = []
    for item in items:
        row = {k: item[k] for k in ("id", "title", "summary", "link", "published", "lang")}
        rows.append(row | {"source": "original", "group": item["id"], "kind": "original"})
        if item["id"] in chosen:
            for m, copy in enumerate(copies(item, chosen.index(item["id"]))):
                rows.append(copy | {"id": f"{item['id']}-c{m}", "group": item["id"]})
    return rows


# Real news feeds of the corpus: the same weeks of early 2017 seen by four outlets (Trump's
# inauguration everywhere), disaster alerts written from one template, Chinese tech news.
HOLDOUT_FEEDS = {
    "FeedReader/Rss20IndianExpress.xml": ("Indian Express", "en"),
    "FeedReader/Rss20JapanTimes.xml": ("Japan Times", "en"),
    "FeedReader/Rss20MoscowTimes.xml": ("Moscow Times", "en"),
    "FeedReader/Rss20NYTimes.xml": ("New York Times", "en"),
    "Feeder/rss_theguardian.xml": ("The Guardian", "en"),
    "georss-gov/gdacs-rss-7d.xml": ("GDACS", "en"),
    "Feeder/rss_geekpark.xml": ("极客公园", "zh"),
    "Rodel.Reader/ld.xml": ("播客", "zh"),
}
HOLDOUT_OUTLETS = ["AP", "Yahoo News", "MSN", "Bloomberg", "The Straits Times"]


def holdout(shared: Path) -> list[dict]:
    from monitor.feeds.parse import parse_feed  # the project's own parser

    rows: list[dict] = []
    for path, (outlet, lang) in HOLDOUT_FEEDS.items():
        parsed = parse_feed((shared / "feeds-corpus" / path).read_bytes(), "http://corpus/")
        for n, entry in enumerate(getattr(parsed, "entries", ())[:60]):
            key = f"{Path(path).stem}-{n}"
            row = {"id": key, "title": entry.title, "summary": entry.summary[:600],
                   "link": entry.link or "", "lang": lang, "source": outlet, "group": key,
                   "kind": "original",
                   "published": entry.published.isoformat() if entry.published else ""}  # fmt: skip
            rows.append(row)
            long_enough = len(entry.summary.split()) >= 12 or (
                lang == "zh" and len(entry.summary) > 60
            )
            if n % 5 == 0 and long_enough and entry.link:
                rows += holdout_copies(row, n)
    return rows


def holdout_copies(row: dict, n: int) -> list[dict]:
    base = {k: row[k] for k in ("title", "summary", "link", "published", "lang", "group")}
    outlet = HOLDOUT_OUTLETS[n % len(HOLDOUT_OUTLETS)]
    first = row["summary"].split(". ")[0]
    out = [
        base | {"title": f"{row['title']} - {row['source']}", "summary": "",
                "link": opaque(row["id"]), "source": "Google News", "kind": "search"},
        base | {"link": row["link"].split("#")[0] + ("&" if "?" in row["link"] else "?")
                + "utm_campaign=syndication&fbclid=x1", "source": "feed with tracking",
                "kind": "tracked"},
        base | {"title": f"{row['title']} | {outlet}", "summary": f"(AP) {first}.",
                "link": f"https://syndicated{n % 3}.example.net/{row['id']}", "source": outlet,
                "kind": "reprint"},
    ]  # fmt: skip
    if row["lang"] == "zh":
        out.append(base | {"title": S2T.convert(row["title"]), "summary": S2T.convert(row["summary"]),
                           "link": f"https://tw.example-news.com/{row['id']}", "source": "轉載",
                           "kind": "trad"})  # fmt: skip
    return [copy | {"id": f"{row['id']}-c{m}"} for m, copy in enumerate(out)]


def events(shared: Path) -> list[dict]:
    items = {
        item["id"]: item
        for item in map(json.loads, (shared / "eval" / "real-items.jsonl").open(encoding="utf-8"))
    }
    rows = []
    for line in (HERE / "stories_events_groups.jsonl").open(encoding="utf-8"):
        label = json.loads(line)
        item = items[label["id"]]
        row = {k: item[k] for k in ("id", "title", "summary", "link", "published", "lang")}
        rows.append(row | {"source": "original", "group": label["group"], "kind": label["kind"]})
    return rows


SETS = {"dev": dev, "holdout": holdout, "events": events}


def write(rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    shared_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared")
    out_dir = Path(sys.argv[2] if len(sys.argv) > 2 else ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, build in SETS.items():
        write(build(shared_dir), out_dir / f"stories_{name}.jsonl")
