"""The news page as RSS and Atom the way one writes it by hand with feedgen.

The contender ``bench/build_speed.py`` runs against ``feedloom build``: read the
page, take every ranked headline (``- 12.title``) with a regex, and write the same
40 entries (title, link, id, date) to RSS 2.0 and Atom 1.0. No state, no article,
no checks: the least a working script does.

Usage::

    python bench/feedgen_news.py PAGE OUTPUT_DIR
"""

import hashlib
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedgen.feed import FeedGenerator

SITE = "https://news.example.com/"
HEADLINE = re.compile(r"^- (\d+)\.(.+)$", re.MULTILINE)


def main(page: str, output: str) -> int:
    """Write OUTPUT/news.xml and OUTPUT/news.atom from the headlines of PAGE."""
    text = Path(page).read_text(encoding="utf-8")
    now = datetime.now(UTC).replace(microsecond=0)
    fg = FeedGenerator()
    fg.id(SITE)
    fg.title("新闻热榜")
    fg.link(href=SITE, rel="alternate")
    fg.description("今日要闻与热门新闻排行")
    fg.language("zh-CN")
    for match in HEADLINE.finditer(text):
        rank, title = int(match[1]), match[2].strip()
        link = f"{SITE}?item={hashlib.sha256(title.encode()).hexdigest()[:16]}"
        when = now - timedelta(seconds=rank - 1)  # rank 1 newest
        entry = fg.add_entry(order="append")
        entry.id(link)
        entry.title(title)
        entry.link(href=link)
        entry.published(when)
        entry.updated(when)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    fg.rss_file(str(out / "news.xml"), pretty=True)
    fg.atom_file(str(out / "news.atom"), pretty=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
