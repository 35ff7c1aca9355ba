"""The news page: one article plus a ranked list of headlines, as a plain-text file.

The page looks like this (one paragraph per line, blank lines ignored)::

    全国各级工会筹集款物41亿元 走访慰问各类职工1127.7万人次      <- the article's title
    中华全国总工会的神圣使命在于……                                <- its paragraphs
    声明:本网站所提供的信息仅供参考……联系方式:284598818@qq.com    <- the disclaimer
    - 1.意大利原版音乐剧《卡萨诺瓦》将在上海文化广场连演10场      <- ranked headlines
    - 2.全国各级工会筹集款物41亿元 走访慰问各类职工1127.7万人次

Everything here is a pure function of its arguments except :func:`read_page`. The
flow is ``read_page`` (bytes -> text) -> :func:`parse_page` (text -> :class:`NewsPage`)
-> :func:`page_entries` (page -> entries). Problems a person should fix but that do not
make the page useless (a missing rank, a repeated headline) become warnings naming the
line; a page that is empty, binary or has nothing recognisable raises
:class:`~feedloom.errors.InputError`.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import string
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote, urldefrag, urlsplit

from feedloom.errors import InputError
from feedloom.model import Entry, SourceRef
from feedloom.sources import Adapter, CollectContext, SourceResult
from feedloom.textutil import clean_text, collapse_ws, normalise_title

if TYPE_CHECKING:
    from feedloom.config import FeedConfig, Table

__all__ = [
    "NAMESPACE",
    "Headline",
    "NewsPage",
    "NewsPageSource",
    "decode_page",
    "entry_id",
    "page_entries",
    "parse_page",
    "read_page",
    "summarise",
    "validate_link_template",
]

# Fixed forever: entry ids are uuid5 under this namespace. It is
# uuid5(NAMESPACE_URL, "https://github.com/feedloom/feedloom#newspage"), written out so
# that no refactoring of that expression can silently change every id.
NAMESPACE = uuid.UUID("50d4b599-a1c3-512d-ad9c-024fca03a8b6")

_GB_CODECS = frozenset({"gb2312", "gbk", "gb18030"})
# Controls that occur in real text files; any other C0/C1 control counts towards "binary".
_TEXT_CONTROLS = frozenset("\t\n\r\f")
# The other controls: Unicode category Cc (a fixed set: U+0000-U+001F, U+007F-U+009F)
# without _TEXT_CONTROLS, as one regex rather than a category lookup per character.
_OTHER_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_BINARY_CONTROL_SHARE = 0.05

# "- 1.title", "- 1、title", "- １．title", "1) title"... Digits are listed explicitly:
# \d would also accept Arabic-Indic and other digits no news page uses.
_HEADLINE = re.compile(
    r"(?:(?P<marker>[-－–—•*])(?P<gap>\s*))?(?P<rank>[0-9０-９]+)\s*[.．、)）]\s*(?P<title>.*)"
)
_DISCLAIMER = re.compile(r"(?:免责)?声明\s*[:：]")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PUNCT_OR_SPACE = re.compile(r"[\W_]", re.UNICODE)

_SENTENCE_ENDS = frozenset("。！？；…!?;")
_AMBIGUOUS_STOPS = frozenset(".．")  # also decimal points: a sentence end only before a space
_CLAUSE_MARKS = frozenset("，、：,:")
_CLOSERS = frozenset("”’」』）)》〉】\"'")
_ELLIPSIS = "…"

_PLACEHOLDERS = ("hash", "id", "title")


def decode_page(data: bytes, *, path: str, encoding: str | None = None) -> str:
    """Decode the bytes of a news page to text with ``\\n`` line ends.

    Order: a configured ``encoding`` wins (GB2312 and GBK are read as their superset
    GB18030, since files labelled GB2312 routinely hold GBK characters); otherwise strict
    UTF-8 (a BOM is dropped); otherwise charset-normalizer's candidates, where a GB codec
    among the least chaotic wins and is read as GB18030 (short GB texts often tie with
    Korean or Japanese codecs). UTF-16/32 guesses are ignored: without a BOM and without
    NUL bytes they are never right; UTF-16 files need ``encoding="utf-16"``.

    Raises:
        InputError: the file is empty or blank, binary (NUL bytes, undecodable, or more
            than 5 % control characters), not in the configured encoding, or the
            configured encoding is unknown.
    """
    if not data.strip():
        raise InputError("the news page is empty; expected an article and/or headlines", path=path)
    if encoding is None and b"\x00" in data:
        raise InputError(_binary_message("it contains NUL bytes"), path=path)
    if encoding is not None:
        text = _decode_configured(data, path, encoding)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode_detected(data, path)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:  # NUL bytes are fine in UTF-16, a NUL character never is
        raise InputError(_binary_message("it contains NUL characters"), path=path)
    if not text.strip():
        raise InputError("the news page is blank; expected an article and/or headlines", path=path)
    controls = len(_OTHER_CONTROLS.findall(text))
    if controls > _BINARY_CONTROL_SHARE * len(text):
        raise InputError(
            _binary_message(f"{controls} of its {len(text)} characters are controls"), path=path
        )
    return text


def _binary_message(why: str) -> str:
    return f"the news page looks like binary data ({why}); expected a UTF-8 or GB18030 text file"


def _decode_configured(data: bytes, path: str, encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r}; expected a codec name such as 'utf-8' or 'gb18030'",
            path=path,
        ) from None
    name = "gb18030" if name in _GB_CODECS else "utf-8-sig" if name == "utf-8" else name
    try:
        return data.decode(name)
    except LookupError:  # a bytes-to-bytes codec such as 'base64'
        raise InputError(
            f"{encoding!r} is not a text encoding; expected one such as 'utf-8' or 'gb18030'",
            path=path,
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the news page is not valid {encoding} (byte {exc.start}); "
            "check the configured encoding",
            path=path,
        ) from exc


def _decode_detected(data: bytes, path: str) -> str:
    # Imported here: detection is only needed when UTF-8 fails, and charset-normalizer
    # costs every cron run several milliseconds to import.
    import charset_normalizer

    candidates = [
        m for m in charset_normalizer.from_bytes(data) if not m.encoding.startswith("utf_")
    ]
    if candidates:
        calmest = min(m.chaos for m in candidates)
        tied = [m for m in candidates if m.chaos <= calmest]
        if not any(codecs.lookup(m.encoding).name in _GB_CODECS for m in tied):
            return str(tied[0])
    # A GB guess, or no guess at all: these pages are Chinese, so GB18030 is the one
    # encoding left worth a strict try.
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError(
            _binary_message("it is neither UTF-8 nor GB18030 nor a detectable encoding"),
            path=path,
        ) from None


def read_page(path: Path, *, encoding: str | None = None) -> str:
    """Read and decode the news page at ``path`` (see :func:`decode_page`).

    Raises:
        InputError: the file cannot be read, or :func:`decode_page` rejects it.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the news page: {exc.strerror or exc}", path=str(path)
        ) from exc
    return decode_page(data, path=str(path), encoding=encoding)


@dataclass(frozen=True)
class Headline:
    """One ranked headline: ``rank`` as numbered on the page, ``line`` 1-based."""

    rank: int
    title: str
    line: int


@dataclass(frozen=True)
class NewsPage:
    """A parsed news page.

    Attributes:
        title: the article's title (the first line), or None on a headlines-only page.
        paragraphs: the article's paragraphs, control characters removed.
        disclaimer: the 声明/免责声明 text (feed rights), never part of any entry.
        contact: the first e-mail address in the disclaimer.
        headlines: the numbered headlines in page order.
        warnings: problems that did not stop parsing, each as ``"path:line: ..."``.
    """

    title: str | None
    paragraphs: tuple[str, ...]
    disclaimer: str | None
    contact: str | None
    headlines: tuple[Headline, ...]
    warnings: tuple[str, ...]


def parse_page(text: str, *, path: str) -> NewsPage:
    """Split a news page into article, disclaimer and headlines.

    Rules, line by line (blank lines are skipped, each line trimmed):

    * A headline is a rank and a title: ``- 1.title``, ``- 1、title``, ``- １．title``,
      ``- 1. title``, ``1) title``; the marker may be ``-``, ``－``, ``–``, ``—``, ``•``
      or ``*``. Before the first headline or the disclaimer, the marker must be
      followed by a space and is required: inside an article, "1、" enumerates points,
      "1.5亿" starts sentences and "-1.5℃" is a temperature. After them, a numbered
      line is a headline with or without a marker.
    * A line starting with ``声明:`` or ``免责声明：`` (either colon) starts the
      disclaimer, which runs up to the first headline. "声明" without a colon is
      ordinary text ("声明称……").
    * Before either of those, the first line is the title, the rest are paragraphs.

    Gaps, repeats and disorder in the ranks, headlines without a title, repeated titles
    and stray lines among the headlines become warnings naming the line.

    Raises:
        InputError: neither an article (a title and at least one paragraph) nor a
            headline was found.
    """
    title: str | None = None
    paragraphs: list[str] = []
    disclaimer: list[str] = []
    headlines: list[Headline] = []
    warnings: list[str] = []
    section = "article"
    expected = 1
    first_line_of_rank: dict[int, int] = {}

    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        line = clean_text(raw).strip()
        if not line:
            continue
        match = _HEADLINE.fullmatch(line)
        if match and (section != "article" or (match["marker"] and match["gap"])):
            section = "headlines"
            rank = int(match["rank"])  # int() reads full-width digits too
            problem = _rank_problem(rank, expected, first_line_of_rank)
            if problem:
                warnings.append(f"{path}:{number}: {problem}")
            first_line_of_rank.setdefault(rank, number)
            expected = max(expected, rank + 1)
            if headline_title := match["title"].strip():
                headlines.append(Headline(rank=rank, title=headline_title, line=number))
            else:
                warnings.append(f"{path}:{number}: headline {rank} has no title; skipped")
        elif _DISCLAIMER.match(line):
            section = "disclaimer"
            disclaimer.append(line)
        elif section == "disclaimer":
            disclaimer.append(line)
        elif section == "headlines":
            warnings.append(f"{path}:{number}: not a numbered headline; ignored")
        elif title is None:
            title = line
        else:
            paragraphs.append(line)

    if not headlines and not (title and paragraphs):
        raise InputError(
            "no recognisable content: expected an article (a title line, then paragraphs) "
            "and/or numbered headlines such as '- 1.标题'",
            path=path,
        )
    warnings.extend(_duplicate_title_warnings(headlines, path))
    disclaimer_text = "\n".join(disclaimer) or None
    contact = None
    if disclaimer_text:
        found = _EMAIL.search(unicodedata.normalize("NFKC", disclaimer_text))
        contact = found.group() if found else None
    return NewsPage(
        title=title,
        paragraphs=tuple(paragraphs),
        disclaimer=disclaimer_text,
        contact=contact,
        headlines=tuple(headlines),
        warnings=tuple(warnings),
    )


def _rank_problem(rank: int, expected: int, first_line_of_rank: dict[int, int]) -> str | None:
    """What is wrong with ``rank`` coming where ``expected`` was due, if anything."""
    if rank in first_line_of_rank:
        return f"rank {rank} repeated (first on line {first_line_of_rank[rank]})"
    if rank > expected:
        missing = str(expected) if rank == expected + 1 else f"{expected}-{rank - 1}"
        return f"rank {rank} follows a gap (rank {missing} missing)"
    if rank < expected:
        return f"rank {rank} out of order (expected {expected})"
    return None


def _match_key(title: str) -> str:
    """Identity of a headline for matching: :func:`normalise_title` without spaces or punctuation.

    Coarser than ``normalise_title``, so two titles that differ only in spaces or
    punctuation are the same story; falls back to ``normalise_title`` for titles that
    are nothing but punctuation.
    """
    normal = normalise_title(title)
    return _PUNCT_OR_SPACE.sub("", normal) or normal


def _by_rank(headlines: Sequence[Headline]) -> list[Headline]:
    """Headlines in rank order (stable), keeping the first of each repeated title."""
    kept: dict[str, Headline] = {}
    for headline in sorted(headlines, key=lambda h: h.rank):
        kept.setdefault(_match_key(headline.title), headline)
    return list(kept.values())


def _duplicate_title_warnings(headlines: Sequence[Headline], path: str) -> list[str]:
    kept = {_match_key(h.title): h for h in _by_rank(headlines)}
    return [
        f"{path}:{h.line}: headline repeats the title of rank {k.rank} "
        f"(line {k.line}); only rank {k.rank} is kept"
        for h in headlines
        if (k := kept[_match_key(h.title)]) is not h
    ]


def summarise(paragraphs: Sequence[str], limit: int = 120) -> str:
    """A plain-text summary of at most ``limit`` characters plus "…".

    The paragraphs are joined into one line (no separator after a CJK character, a
    space otherwise; whitespace collapsed). If that fits in ``limit`` it is returned
    whole, without "…". Otherwise it is cut at the first rule that gives at least
    ``limit // 2`` characters:

    1. after the last sentence end within ``limit`` characters: 。！？；… ! ? ; and
       ``.``/``．`` followed by a space (so 1127.7 is not one), together with any
       closing quotes or brackets and repeated marks that follow, e.g. ``。”``;
    2. before the last clause mark within ``limit + 1`` characters: ，、： and ``,``
       ``:`` unless between two digits (1,000 or 10:30); the mark is dropped;
    3. after ``limit`` characters, moved back to the start of a Latin word or a number
       (1,127.7) that would be split (CJK characters are words of their own), unless
       that start is under the floor.

    Trailing spaces are removed and "…" appended (unless the text kept already ends with
    "…"), so the result has at most ``limit + 1`` characters.
    """
    if limit < 1:
        raise ValueError(f"summary limit must be at least 1, not {limit}")
    text = ""
    for paragraph in paragraphs:
        part = collapse_ws(clean_text(paragraph))
        if part:
            text += ("" if not text or _is_wide(text[-1]) else " ") + part
    if len(text) <= limit:
        return text
    floor = limit // 2
    cut = _sentence_cut(text, limit, floor) or _clause_cut(text, limit, floor)
    if cut is None:
        cut = limit
        while cut > floor and _splits_word(text, cut):
            cut -= 1
        if cut == floor and (cut == 0 or _splits_word(text, cut)):
            # One word longer than half the summary: split it after all.
            cut = limit
    kept = text[:cut].rstrip()
    return kept if kept.endswith(_ELLIPSIS) else kept + _ELLIPSIS


def _sentence_cut(text: str, limit: int, floor: int) -> int | None:
    for i in range(limit - 1, max(floor - 2, -1), -1):
        if not _is_sentence_end(text, i):
            continue
        end = i + 1
        while end < len(text) and (text[end] in _CLOSERS or _is_sentence_end(text, end)):
            end += 1
        if floor <= end <= limit:
            return end
    return None


def _is_sentence_end(text: str, i: int) -> bool:
    ch = text[i]
    if ch in _AMBIGUOUS_STOPS:
        return i + 1 == len(text) or text[i + 1].isspace()
    return ch in _SENTENCE_ENDS


def _clause_cut(text: str, limit: int, floor: int) -> int | None:
    for i in range(min(limit, len(text) - 1), max(floor, 1) - 1, -1):
        ch = text[i]
        if ch not in _CLAUSE_MARKS:
            continue
        between_digits = 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        if ch in ",:" and between_digits:
            continue
        return i
    return None


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _in_word(ch: str) -> bool:
    return ch.isalnum() and not _is_wide(ch)


def _splits_word(text: str, cut: int) -> bool:
    """Whether cutting before ``text[cut]`` splits a Latin word or a number like 1,127.7."""
    before, after = text[cut - 1], text[cut]
    if _in_word(before) and _in_word(after):
        return True
    if after in ".,:" and before.isdigit():
        return cut + 1 < len(text) and text[cut + 1].isdigit()
    return before in ".,:" and after.isdigit() and cut >= 2 and text[cut - 2].isdigit()


def entry_id(feed_id: str, title: str) -> str:
    """The stable id of the entry for ``title`` in feed ``feed_id``.

    ``urn:uuid:`` + uuid5(:data:`NAMESPACE`, ``feed_id + "\\n" + normalise_title(title)``):
    the same on every run and machine, and independent of rank and time.
    """
    return _entry_uuid(feed_id, title).urn


def _entry_uuid(feed_id: str, title: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{feed_id}\n{normalise_title(title)}")


def validate_link_template(template: str) -> None:
    """Check an entry link template such as ``https://example.com/news/{hash}.html``.

    Placeholders: ``{hash}`` (16 hex digits of the SHA-256 of the normalised title),
    ``{id}`` (the 32 hex digits of the entry's uuid) and ``{title}`` (the title,
    percent-encoded, ``/`` included). At least one is required so that links are unique,
    format specs such as ``{hash:.8}`` are allowed, and the result must be an absolute
    http(s) URL.

    Raises:
        ValueError: with a message saying what is wrong and what is expected.
    """
    expected = "expected an absolute URL with {hash}, {id} or {title}"
    try:
        fields = [f for f in string.Formatter().parse(template) if f[1] is not None]
    except ValueError as exc:
        raise ValueError(f"link template {template!r}: {exc}; {expected}") from None
    if not fields:
        raise ValueError(
            f"link template {template!r} has no placeholder, so every entry would get "
            f"the same link; {expected}"
        )
    for _, name, spec, conversion in fields:
        if name not in _PLACEHOLDERS or conversion or (spec and "{" in spec):
            raise ValueError(f"link template {template!r}: unknown placeholder in it; {expected}")
    try:
        sample = template.format(hash="0" * 16, id="0" * 32, title="x")
    except ValueError as exc:
        raise ValueError(f"link template {template!r}: {exc}; {expected}") from None
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"link template {template!r} gives a relative link; {expected}")


def _escape(text: str) -> str:
    # html.escape(text, quote=False), without importing the html package on every build.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def page_entries(
    page: NewsPage, *, feed_id: str, site_url: str, link_template: str | None = None
) -> list[Entry]:
    """The entries of a news page, in rank order.

    One entry per headline (``rank`` kept; a title repeated on the page yields one entry,
    at its best rank). The article joins the headline with the same title (compared
    without case, width, spaces or punctuation) and gives it ``content`` (the paragraphs
    as escaped ``<p>`` HTML) and ``summary`` (:func:`summarise`); title and id stay the
    headline's, so the entry keeps its identity when the article moves on. An article
    not among the headlines is an entry of its own (rank None), first; a title without
    paragraphs is a page heading, not an entry. The disclaimer is in no entry, and
    ``published``/``updated`` are left to the build (first-seen times).

    Links come from ``link_template`` (see :func:`validate_link_template`) or, without
    one, are ``site_url`` with ``?item=<hash>`` added: a query, not a fragment, because
    merging folds links that differ only in their fragment into one.

    Raises:
        ValueError: ``link_template`` is invalid.
    """
    if link_template is not None:
        validate_link_template(link_template)
    article_key = _match_key(page.title) if page.title and page.paragraphs else None

    def make(title: str, rank: int | None, with_article: bool) -> Entry:
        uid = _entry_uuid(feed_id, title)
        digest = hashlib.sha256(normalise_title(title).encode()).hexdigest()[:16]
        if link_template is not None:
            link = link_template.format(hash=digest, id=uid.hex, title=quote(title, safe=""))
        else:
            base = urldefrag(site_url).url
            base += "" if urlsplit(base).path else "/"
            link = f"{base}{'&' if urlsplit(base).query else '?'}item={digest}"
        if not with_article:
            return Entry(id=uid.urn, title=title, link=link, rank=rank)
        content = "\n".join(f"<p>{_escape(p)}</p>" for p in page.paragraphs)
        return Entry(
            id=uid.urn,
            title=title,
            link=link,
            summary=summarise(page.paragraphs),
            content=content,
            rank=rank,
        )

    entries = []
    matched = False
    for headline in _by_rank(page.headlines):
        is_article = not matched and _match_key(headline.title) == article_key
        matched = matched or is_article
        entries.append(make(headline.title, headline.rank, is_article))
    if article_key is not None and not matched:
        assert page.title is not None
        entries.insert(0, make(page.title, None, True))
    return entries


@dataclass(eq=False)
class NewsPageSource(Adapter):
    """The ``newspage`` source type: one page file → ranked entries (see the module docstring)."""

    type: ClassVar[str] = "newspage"

    path: Path
    encoding: str | None
    site_url: str
    link_template: str | None
    name: str | None

    @classmethod
    def from_config(cls, table: Table, feed: FeedConfig) -> NewsPageSource:
        """Read ``path``, ``encoding``, ``link_template``, ``site_url`` and ``name``."""
        path = table.path_value("path", required=True)
        assert path is not None
        encoding = table.encoding("encoding")
        template = table.string("link_template")
        if template is not None:
            table.convert("link_template", validate_link_template, template)
        return cls(
            path=path,
            encoding=encoding,
            # Entry ids hash the page's site URL, so the same page merged into another
            # feed keeps the same ids (and first-seen dates) there.
            site_url=table.url("site_url", feed.site_url),
            link_template=template,
            name=table.string("name"),
        )

    @property
    def key(self) -> str:
        return f"page:{self.path}"

    @property
    def location(self) -> str:
        """The page's path."""
        return str(self.path)

    def collect(self, ctx: CollectContext) -> SourceResult:
        """Read and parse the page; an unreadable or unrecognisable page is an error result."""
        location = self.location
        ref = SourceRef(id=self.site_url, title=self.name or ctx.feed.title, link=self.site_url)
        try:
            page = parse_page(read_page(self.path, encoding=self.encoding), path=location)
            entries = page_entries(
                page,
                feed_id=self.site_url,
                site_url=self.site_url,
                link_template=self.link_template,
            )
        except InputError as exc:
            return SourceResult(key=self.key, kind=self.type, location=location, error=exc, ref=ref)
        meta = {"rights": page.disclaimer, "contact": page.contact}
        return SourceResult(
            key=self.key,
            kind=self.type,
            location=location,
            entries=tuple(entries),
            meta={k: v for k, v in meta.items() if v},
            warnings=page.warnings,
            ref=ref,
        )
