"""Merge entries from several sources into one feed: pure functions, no I/O, no clock.

:func:`merge` runs the whole pipeline: per-source limit, filters, maximum age,
:func:`dedupe`, :func:`sort_entries`, global limit. The caller passes ``now``, so a
merge is a function of its arguments and tests never need to patch a clock.

Identity for deduplication, tried in this order:

1. the entry id (exact);
2. the canonical link (:func:`canonical_link`): scheme, host, port, trailing
   slash, fragment, percent-encoding and tracking parameters do not count;
3. optionally, a near-identical title: the Jaccard similarity of the titles'
   character bigrams (:func:`title_fingerprint`, :func:`title_similarity`) is at
   least the threshold, *and* both titles carry the same numbers, *and* the
   entry's source is not in the group yet. The number rule keeps "Weekly digest
   #12" and "#13", or two timetable notices for different dates, apart although
   their bigrams are 90 % alike; the source rule keeps a feed's own recurring
   titles apart (a monthly "Who is hiring?" thread has a new id and link each
   month): titles find the same story told by *another* feed.

The earliest entry of a duplicate group wins (see :func:`dedupe`), and the other
entries' sources are recorded in the winner's ``also_from``.

Title matching indexes only the rare bigrams of each title, so 20,000 entries
take well under a second instead of 200 million comparisons. It is exact for up
to 64 titles with the same numbers; in larger batches a pair of titles made only
of common bigrams (see ``_TitleMatcher``) is merged only if their fingerprints
are identical.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import add
from urllib.parse import quote, unquote_plus

from feedloom.model import Entry, SourceRef

__all__ = [
    "TRACKING_PARAMS",
    "CompiledFilters",
    "Filters",
    "MergeOptions",
    "canonical_link",
    "dedupe",
    "merge",
    "sort_entries",
    "title_fingerprint",
    "title_similarity",
]

# ---------------------------------------------------------------------------
# Canonical links

#: Query parameters that only say how a reader arrived, never which page it is.
#: Compared case-insensitively; every ``utm_*`` parameter is dropped as well.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # Google Analytics / Ads
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "_ga",
        "_gl",
        # Meta, Microsoft, Yandex, X/Twitter, TikTok, LinkedIn
        "fbclid",
        "igshid",
        "msclkid",
        "yclid",
        "twclid",
        "ref_src",
        "ttclid",
        "li_fat_id",
        # Mailchimp, HubSpot, Marketo
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "mkt_tok",
        # Alibaba / Taobao click-path tokens
        "spm",
        "scm",
        # Others seen on news links
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
    }
)
_TRACKING_PREFIXES = ("utm_",)

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PCT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 pchar plus "/" (and "?" in a query); "%" stays so existing escapes survive.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_PATH_NEEDS_QUOTE = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")
_QUERY_NEEDS_QUOTE = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")


def _fix_escape(match: re.Match[str]) -> str:
    char = chr(int(match[1], 16))
    # Decoding an unreserved character never changes meaning (RFC 3986 §6.2.2.2);
    # decoding a reserved one ("%2F" -> "/") would, so it only gets upper-case hex.
    return char if char in _UNRESERVED else "%" + match[1].upper()


def _normalise_escapes(text: str, needs_quote: re.Pattern[str], safe: str) -> str:
    if needs_quote.search(text):
        # Raw non-ASCII ("/新闻") and its percent-encoded UTF-8 form are the same URL.
        text = quote(text, safe=safe, errors="surrogatepass")
    if "%" in text:
        text = _PCT_ESCAPE.sub(_fix_escape, text)
    return text


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return "/".join(out)


def _normalise_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if not host.isascii():
        # Unicode and punycode spellings of an IDN name the same site; a label the
        # codec rejects (too long, prohibited code point) just stays lower-cased.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


def _normalise_netloc(netloc: str, scheme: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        if end == -1:
            host, port = hostport, ""
        else:
            host, rest = hostport[: end + 1], hostport[end + 1 :]
            port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    host = _normalise_host(host)
    if port.isdigit():
        port = str(int(port))
    if port == _DEFAULT_PORTS.get(scheme):
        port = ""
    return f"{userinfo}{at}{host}{':' + port if port else ''}"


def _is_tracking(param: str) -> bool:
    name = param.partition("=")[0]
    if "%" in name or "+" in name:
        name = unquote_plus(name)
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


# RFC 3986 appendix B: the reference regex that splits any URI reference, with
# no validation; much cheaper than urlsplit on thousands of distinct links.
_URI_PARTS = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# http(s), a lower-case ASCII host without port or userinfo, a path of plain pchars,
# no query, no fragment: the slow path would only rewrite the scheme and the slashes.
_SIMPLE_URL = re.compile(r"https?://([a-z0-9.\-]+)((?:/[A-Za-z0-9\-._~!$&'()*+,;=:@]*)*)")
# WHATWG URL parsing drops these anywhere in a URL; feeds wrap long links with them.
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


def canonical_link(url: str) -> str:
    """Return the form of ``url`` used to recognise the same page under two spellings.

    Normalisation, each step chosen because it never merges two different pages
    on real sites:

    - surrounding whitespace, tabs and newlines, and the fragment are dropped;
    - scheme and host are lower-cased, ``http`` and ``https`` are both written
      ``https`` (as is a scheme-relative ``//host/...``), a default port (80 for
      http, 443 for https) is dropped, a trailing dot of the host is dropped, and an
      internationalised host is written in punycode (so ``中国.cn`` and
      ``xn--fiqs8s.cn`` agree);
    - in the path, ``.``/``..`` segments are resolved and trailing slashes folded
      (``/a/`` is ``/a``; ``/`` becomes the empty path);
    - in path and query, raw non-ASCII is percent-encoded as UTF-8, escapes of
      unreserved characters are decoded and other escapes get upper-case hex;
    - query parameters in :data:`TRACKING_PARAMS` or starting with ``utm_`` are
      removed, case-insensitively; the others keep their order and spelling.

    Strings without a host (``urn:``, ``mailto:``, relative paths) are returned
    stripped and without fragment. Never raises.
    """
    simple = _SIMPLE_URL.fullmatch(url)
    if simple and "/." not in simple[2] and not simple[1].endswith("."):
        # Already canonical but for scheme and trailing slash: most feed links.
        return f"https://{simple[1]}{simple[2].rstrip('/')}"
    text = url.strip().translate(_TAB_NEWLINE)
    match = _URI_PARTS.match(text)
    scheme, netloc, path, query = match.groups() if match else (None, None, "", None)
    if not netloc or (scheme is not None and not _SCHEME.fullmatch(scheme)):
        return text.partition("#")[0]
    original_scheme = (scheme or "https").lower()
    scheme = "https" if original_scheme in ("http", "https") else original_scheme
    netloc = _normalise_netloc(netloc, original_scheme)

    path = _normalise_escapes(path, _PATH_NEEDS_QUOTE, _PATH_SAFE)
    if "/." in path:
        path = _remove_dot_segments(path)
    path = path.rstrip("/")

    if query:
        query = "&".join(
            _normalise_escapes(param, _QUERY_NEEDS_QUOTE, _QUERY_SAFE)
            for param in query.split("&")
            if param and not _is_tracking(param)
        )
    return f"{scheme}://{netloc}{path}{'?' + query if query else ''}"


# ---------------------------------------------------------------------------
# Title fingerprints


class _DropPunctuation(dict[int, int | None]):
    """A ``str.translate`` table deleting punctuation, separators and controls.

    Filled on demand, so each distinct character costs one ``unicodedata`` lookup
    per process instead of one per occurrence.
    """

    def __missing__(self, codepoint: int) -> int | None:
        keep = unicodedata.category(chr(codepoint))[0] not in "PZC"
        value = codepoint if keep else None
        self[codepoint] = value
        return value


_DROP_PUNCTUATION = _DropPunctuation()
_NUMBER = re.compile(r"\d+")


def _fold(text: str) -> str:
    """NFKC (full-width to ASCII forms, compatibility characters) plus case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def _bigrams(compact: str) -> frozenset[str]:
    if len(compact) < 2:
        return frozenset(compact)
    return frozenset(map(add, compact, compact[1:]))


def title_fingerprint(title: str) -> frozenset[str]:
    """Return the set of character bigrams of ``title`` after normalisation.

    As in :func:`feedloom.textutil.normalise_title`, NFKC folds full-width letters,
    digits and spaces to their ASCII forms and text is case-folded; then
    punctuation, whitespace, control and format characters are removed.
    Character bigrams need no word boundaries, so they work for Chinese as well as
    for spaced scripts. A one-character title yields that character; an empty or
    all-punctuation title yields the empty set.
    """
    return _bigrams(_fold(title).translate(_DROP_PUNCTUATION))


def title_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity ``|a ∩ b| / |a ∪ b|`` of two fingerprints, in ``[0, 1]``.

    Jaccard rather than Dice because it is the stricter of the two for the same
    overlap, and it admits an exact candidate filter (see :func:`dedupe`). Two
    empty fingerprints score 0.0: an empty title is no evidence of sameness.
    """
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


# Titles shorter than this (after removing punctuation) never match by title:
# "News", "视频", "Update" recur across unrelated entries.
_MIN_TITLE_CHARS = 5
# Only bigrams found in at most this many titles of the batch lead to candidates.
# Commoner ones ("th", "er", "上海") would make every title a candidate of every
# other; see _TitleMatcher for what this costs in recall.
_RARE_BIGRAM = 64
# Guards ceil(threshold * size) against binary rounding (0.85 * 20 = 17.000000000000004).
_EPS = 1e-9


class _Bucket:
    """The titles that carry one tuple of numbers: only they can match each other."""

    __slots__ = ("exact", "frequency", "index", "rare", "unique")

    def __init__(self, fingerprints: list[frozenset[str]]) -> None:
        self.frequency = Counter(chain.from_iterable(fingerprints))
        # A bigram of one title only sorts first but cannot be shared; one of more
        # than _RARE_BIGRAM titles is never looked up.
        self.unique = {gram for gram, n in self.frequency.items() if n == 1}
        self.rare = {gram for gram, n in self.frequency.items() if 1 < n <= _RARE_BIGRAM}
        # Kept titles with this fingerprint, earliest first: several only when they
        # come from one source (see _TitleMatcher.match).
        self.exact: dict[frozenset[str], list[int]] = {}
        # bigram -> (slot, position of the bigram in that slot's order)
        self.index: dict[str, list[tuple[int, int]]] = {}


class _TitleMatcher:
    """Finds, among the kept entries, the one whose title is most similar.

    Titles can only match within a bucket of equal numbers. Identical fingerprints
    are found with a dict. Near-identical ones use prefix filtering (Chaudhuri et
    al., "A primitive operator for similarity joins", ICDE 2006; positional filter
    from Xiao et al., "Efficient similarity joins for near duplicate detection",
    WWW 2008): two sets with Jaccard >= t share at least ceil(t * |x|) bigrams, so
    under one order of bigrams their first shared bigram lies among the first
    ``|x| - ceil(t * |x|) + 1`` of each, and all other shared bigrams come after it
    in both. Ordering rarest first (frequency in the bucket, then text) keeps the
    lists behind those prefix bigrams short.

    The search is exact (it finds every kept title at or above the threshold)
    whenever the first shared bigram occurs in at most ``_RARE_BIGRAM`` titles of
    the bucket, which always holds when the bucket has no more titles. In large
    buckets, two titles made only of very common bigrams (long English headlines
    from a small vocabulary) match only when their fingerprints are identical.
    """

    def __init__(self, entries: Sequence[Entry], threshold: float) -> None:
        self.threshold = threshold
        # An entry without a known source may join any group.
        self.sources = [_source_key(entry.source) or None for entry in entries]
        # The sources an entry stands for already (its also_from, from an earlier
        # merge): they count as in its group, or merging a merged feed again would
        # join what the first merge kept apart.
        self.absorbed = {
            position: keys
            for position, entry in enumerate(entries)
            if entry.also_from and (keys := {k for r in entry.also_from if (k := _source_key(r))})
        }
        # slot -> the winner's known source; and the other known sources its group
        # gained (rare: a dict of sets for every slot cost a fifth of the merge).
        self.winner_source: dict[int, str] = {}
        self.joined_sources: dict[int, set[str]] = {}
        compacts: list[str] = []
        # None for a title too short to match by title.
        self.numbers: list[tuple[str, ...] | None] = []
        for entry in entries:
            normal = _fold(entry.title)
            compact = normal.translate(_DROP_PUNCTUATION)
            compacts.append(compact)
            long_enough = len(compact) >= _MIN_TITLE_CHARS
            self.numbers.append(tuple(_NUMBER.findall(normal)) if long_enough else None)
        members = Counter(self.numbers)
        # A title alone in its bucket has nothing to match: no bigrams, no work.
        self.fingerprints: list[frozenset[str] | None] = [
            _bigrams(compact) if numbers is not None and members[numbers] > 1 else None
            for compact, numbers in zip(compacts, self.numbers, strict=True)
        ]
        grouped: dict[tuple[str, ...], list[frozenset[str]]] = {}
        for grams, numbers in zip(self.fingerprints, self.numbers, strict=True):
            if grams is not None and numbers is not None:
                grouped.setdefault(numbers, []).append(grams)
        self.buckets = {numbers: _Bucket(prints) for numbers, prints in grouped.items()}
        self.kept: dict[int, frozenset[str]] = {}

    def _prefix(self, grams: frozenset[str], bucket: _Bucket) -> tuple[int, list[str]]:
        """The usable bigrams of the prefix of ``grams``, and the position of the first.

        The prefix is the first ``|x| - ceil(t*|x|) + 1`` bigrams in the bucket's
        order. Its unique bigrams (always first) are skipped, and so are the common
        ones (always last), leaving a short list to sort.
        """
        size = len(grams)
        length = size - math.ceil(self.threshold * size - _EPS) + 1
        start = len(grams & bucket.unique)
        if start >= length:
            return start, []
        usable = grams & bucket.rare
        if not usable:
            return start, []
        # Two stable sorts give the total order (frequency, text) with no
        # Python-level key function; every title must use the same order.
        ordered = sorted(sorted(usable), key=bucket.frequency.__getitem__)
        return start, ordered[: length - start]

    def join(self, slot: int, position: int) -> None:
        """Record that the entry at ``position`` joined the group at ``slot`` (any way)."""
        source = self.sources[position]
        if source is not None and self.winner_source.get(slot) != source:
            self.joined_sources.setdefault(slot, set()).add(source)
        self._absorb(slot, position)

    def _keep(self, slot: int, position: int, source: str | None) -> None:
        if source is not None:
            self.winner_source[slot] = source
        self._absorb(slot, position)

    def _absorb(self, slot: int, position: int) -> None:
        absorbed = self.absorbed.get(position)
        if absorbed:
            self.joined_sources.setdefault(slot, set()).update(absorbed)

    def _allowed(self, slot: int, source: str | None) -> bool:
        """Whether an entry of ``source`` may join ``slot``'s group by its title."""
        if source is None:
            return True
        if self.winner_source.get(slot) == source:
            return False
        joined = self.joined_sources.get(slot)
        return joined is None or source not in joined

    def match(self, position: int, new_slot: int) -> int | None:
        """Return the slot of the most similar kept title (earliest on ties).

        Groups that hold an entry of this entry's source are passed over. If there is
        no match, the title at ``position`` is kept as ``new_slot``.
        """
        source = self.sources[position]
        grams = self.fingerprints[position]
        numbers = self.numbers[position]
        if grams is None or numbers is None:
            self._keep(new_slot, position, source)
            return None
        bucket = self.buckets[numbers]
        for slot in bucket.exact.get(grams, ()):
            if self._allowed(slot, source):
                return slot  # similarity 1.0, and the earliest such slot
        start, prefix = self._prefix(grams, bucket)
        best = self._search(grams, bucket, start, prefix, source) if prefix else None
        if best is None:
            self._keep(new_slot, position, source)
            self.kept[new_slot] = grams
            bucket.exact.setdefault(grams, []).append(new_slot)
            for j, gram in enumerate(prefix, start):
                bucket.index.setdefault(gram, []).append((new_slot, j))
        return best

    def _search(
        self,
        grams: frozenset[str],
        bucket: _Bucket,
        start: int,
        prefix: list[str],
        source: str | None,
    ) -> int | None:
        threshold = self.threshold
        size = len(grams)
        # Jaccard >= t is impossible unless t*|x| <= |y| <= |x|/t ...
        low = threshold * size - _EPS
        high = size / threshold + _EPS
        # ... and needs an overlap of at least t/(1+t) * (|x| + |y|).
        share = threshold / (1 + threshold)
        kept = self.kept
        best: int | None = None
        best_score = 0.0
        seen: set[int] = set()
        for i, gram in enumerate(prefix, start):
            for slot, j in bucket.index.get(gram, ()):
                if slot in seen:
                    continue
                seen.add(slot)
                if source is not None and not self._allowed(slot, source):
                    continue
                other = kept[slot]
                n_other = len(other)
                if not low <= n_other <= high:
                    continue
                # First meeting is at the first shared bigram (if the pair can
                # match at all), so only the bigrams after i and j can be shared.
                if 1 + min(size - 1 - i, n_other - 1 - j) < share * (size + n_other) - _EPS:
                    continue
                score = title_similarity(grams, other)
                if score >= threshold and (
                    best is None or score > best_score or (score == best_score and slot < best)
                ):
                    best, best_score = slot, score
        return best


# ---------------------------------------------------------------------------
# Dedupe and sort

_MIN_DATE = datetime.min.replace(tzinfo=UTC)


def _source_key(source: SourceRef | None) -> str:
    if source is None:
        return ""
    return source.url or source.id or ""


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"title threshold must be in (0, 1], got {threshold!r}")


def dedupe(
    entries: Iterable[Entry],
    *,
    dedupe_titles: bool = False,
    title_threshold: float = 0.85,
) -> list[Entry]:
    """Collapse entries that are the same item, keeping the earliest of each group.

    Entries are visited from earliest to latest (by :attr:`Entry.date`; undated
    count as latest). Each one joins the first kept entry that has its id, else
    its canonical link, else (with ``dedupe_titles``) a near-identical title and
    the same numbers in a group without an entry of its own source (a feed's
    entries with distinct ids and links are distinct items, however alike their
    titles); otherwise it is kept. A merged entry's id and link keep
    pointing at its winner, so an entry that shares only an id with an earlier
    duplicate still finds the group; titles are compared with kept entries only,
    so a chain of small edits cannot drift into an unrelated headline.

    Equal dates are broken by the smallest (source URL, id, rank, canonical link,
    title), then input order, so the result does not depend on the order of the
    input. Deduplicating the output again changes nothing, provided the title
    search was exact (always, for up to 64 titles with the same numbers): with
    more, a second pass over fewer titles may find a near-identical pair whose
    shared bigrams were all too common to be looked up in the first.

    The winner's ``also_from`` gains each merged entry's ``source`` and
    ``also_from``, once each, in visiting order, never the winner's own source.

    Args:
        entries: entries in any order.
        dedupe_titles: also merge entries with near-identical titles.
        title_threshold: minimum :func:`title_similarity` for a title match, in (0, 1].

    Returns:
        The kept entries, in input order.

    Raises:
        ValueError: if ``title_threshold`` is outside (0, 1].
    """
    _check_threshold(title_threshold)
    items = list(entries)
    links = [canonical_link(entry.link) if entry.link else "" for entry in items]

    def priority(position: int) -> tuple[object, ...]:
        entry = items[position]
        date = entry.date
        return (
            date is None,
            date or _MIN_DATE,
            _source_key(entry.source),
            entry.id,
            entry.rank is None,
            entry.rank or 0,
            links[position],
            entry.title,
        )

    order = sorted(range(len(items)), key=priority)
    titles = _TitleMatcher(items, title_threshold) if dedupe_titles else None
    by_id: dict[str, int] = {}
    by_link: dict[str, int] = {}
    winners: list[int] = []  # slot -> position in items
    merged: list[list[SourceRef]] = []  # slot -> sources of the entries it absorbed

    for position in order:
        entry = items[position]
        link = links[position]
        slot = by_id.get(entry.id)
        if slot is None and link:
            slot = by_link.get(link)
        if slot is None and titles is not None:
            slot = titles.match(position, len(winners))
        if slot is None:
            slot = len(winners)
            winners.append(position)
            merged.append([])
        else:
            if titles is not None:
                titles.join(slot, position)
            if entry.source is not None:
                merged[slot].append(entry.source)
            merged[slot].extend(entry.also_from)
        by_id.setdefault(entry.id, slot)
        if link:
            by_link.setdefault(link, slot)

    result: list[tuple[int, Entry]] = []
    for slot, position in enumerate(winners):
        winner = items[position]
        if merged[slot]:
            seen = set(winner.also_from)
            if winner.source is not None:
                seen.add(winner.source)
            added: list[SourceRef] = []
            for ref in merged[slot]:
                if ref not in seen:
                    seen.add(ref)
                    added.append(ref)
            if added:
                winner = winner.evolve(also_from=winner.also_from + tuple(added))
        result.append((position, winner))
    result.sort(key=lambda pair: pair[0])
    return [entry for _, entry in result]


def sort_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Return ``entries`` newest first, undated ones last.

    Equal dates (and the undated tail) are ordered by rank ascending (unranked
    last), then id, so the output order never depends on input order unless two
    entries agree on all three.
    """
    items = sorted(entries, key=lambda e: (e.rank is None, e.rank or 0, e.id))
    dated = [entry for entry in items if entry.date is not None]
    undated = [entry for entry in items if entry.date is None]
    # A stable sort by date alone keeps the tiebreak order among equal dates.
    dated.sort(key=lambda e: e.date, reverse=True)  # type: ignore[arg-type, return-value]
    return dated + undated


# ---------------------------------------------------------------------------
# Filters


def _compile_pattern(pattern: str) -> tuple[str | None, re.Pattern[str] | None]:
    """Return ``(folded keyword, None)`` or ``(None, regex)`` for one filter pattern."""
    if pattern.startswith("re:"):
        source = pattern[3:]
        if not source:
            raise ValueError(f"filter pattern {pattern!r}: empty regular expression")
        try:
            return None, re.compile(source, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(
                f"filter pattern {pattern!r}: invalid regular expression: {exc}"
            ) from exc
    if not pattern.strip():
        raise ValueError(f"filter pattern {pattern!r} is empty")
    return _fold(pattern), None


class CompiledFilters:
    """Ready-to-run form of :class:`Filters`; build it with :meth:`Filters.compile`."""

    __slots__ = ("_exclude", "_include")

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self._include = [_compile_pattern(p) for p in include]
        self._exclude = [_compile_pattern(p) for p in exclude]

    @staticmethod
    def _hit(
        patterns: list[tuple[str | None, re.Pattern[str] | None]],
        texts: list[str],
        folded: list[str],
    ) -> bool:
        for keyword, regex in patterns:
            if regex is not None:
                if any(regex.search(text) for text in texts):
                    return True
            elif any(keyword in text for text in folded):  # type: ignore[operator]
                return True
        return False

    def matches(self, entry: Entry) -> bool:
        """True if some include pattern hits (or none is set) and no exclude pattern does."""
        if not self._include and not self._exclude:
            return True
        texts = [entry.title, *([entry.summary] if entry.summary else []), *entry.categories]
        folded = [_fold(text) for text in texts]
        if self._include and not self._hit(self._include, texts, folded):
            return False
        return not self._hit(self._exclude, texts, folded)


@functools.lru_cache(maxsize=256)
def _compile_filters(include: tuple[str, ...], exclude: tuple[str, ...]) -> CompiledFilters:
    # Cached so Filters stays plain data (fields, equality, asdict) yet compiles once.
    return CompiledFilters(include, exclude)


@dataclass(frozen=True)
class Filters:
    """Keep or drop entries by keywords or regular expressions.

    Each pattern is either a plain keyword, matched as a case-insensitive
    substring after NFKC folding (so ``ai`` finds ``ＡＩ``), or ``re:<regex>``,
    searched case-insensitively. Patterns are tried against the title, the
    summary and each category separately. With no include patterns every entry
    is included; an exclude hit always wins.

    Patterns are compiled when the object is created, so an invalid one fails
    at configuration time.

    Raises:
        ValueError: for an empty pattern or an invalid regular expression; the
            message quotes the pattern.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("include", "exclude"):
            value = getattr(self, name)
            if isinstance(value, str):
                # tuple("python") would silently become six one-letter keywords.
                raise ValueError(f"filters {name} must be a list of patterns, not {value!r}")
            patterns = tuple(value)
            for pattern in patterns:
                if not isinstance(pattern, str):
                    raise ValueError(f"filter pattern {pattern!r} in {name} is not a string")
            object.__setattr__(self, name, patterns)
        self.compile()  # fail now, at configuration time, on a bad pattern

    def compile(self) -> CompiledFilters:
        """Return the compiled matcher (compiled once per distinct set of patterns).

        Raises:
            ValueError: for an empty pattern or an invalid regular expression.
        """
        return _compile_filters(self.include, self.exclude)

    def matches(self, entry: Entry) -> bool:
        """True if ``entry`` is kept by these filters."""
        return self.compile().matches(entry)

    @property
    def active(self) -> bool:
        """True if any pattern is set."""
        return bool(self.include or self.exclude)


# ---------------------------------------------------------------------------
# The pipeline


def _check_limit(what: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{what} must be a non-negative integer or None, got {value!r}")


@dataclass(frozen=True)
class MergeOptions:
    """How :func:`merge` trims and deduplicates.

    Attributes:
        limit: keep at most this many entries after merging (None: all).
        max_age: drop entries dated before ``now - max_age`` (undated entries stay).
        filters: include/exclude patterns.
        dedupe_titles: also merge entries with near-identical titles.
        title_threshold: minimum title similarity for that, in (0, 1].

    Raises:
        ValueError: for a negative limit or age, or a threshold outside (0, 1].
    """

    limit: int | None = None
    max_age: timedelta | None = None
    filters: Filters = Filters()
    dedupe_titles: bool = False
    title_threshold: float = 0.85

    def __post_init__(self) -> None:
        _check_limit("limit", self.limit)
        if self.max_age is not None and self.max_age < timedelta(0):
            raise ValueError(f"max_age must not be negative, got {self.max_age!r}")
        _check_threshold(self.title_threshold)


def merge(
    groups: Iterable[Iterable[Entry]],
    *,
    now: datetime,
    options: MergeOptions = MergeOptions(),
    per_source_limits: Sequence[int | None] | None = None,
) -> list[Entry]:
    """Merge the entries of several sources into one list, newest first.

    Steps, in order: each group is cut to its per-source limit (its newest
    entries, ordered as :func:`sort_entries`); then filters; then entries dated
    before ``now - options.max_age`` are dropped (undated ones are kept); then
    :func:`dedupe`, :func:`sort_entries` and the global ``options.limit``.

    Args:
        groups: one iterable of entries per source.
        now: the reference time for ``max_age``; must be timezone-aware.
        options: limits, filters and dedupe settings.
        per_source_limits: one limit (or None) per group, in the same order.

    Raises:
        ValueError: if ``now`` is naive, or ``per_source_limits`` does not have one
            non-negative limit per group.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    group_list = [list(group) for group in groups]
    limits: Sequence[int | None] = (
        [None] * len(group_list) if per_source_limits is None else per_source_limits
    )
    if len(limits) != len(group_list):
        raise ValueError(
            f"per_source_limits has {len(limits)} items for {len(group_list)} source groups"
        )
    pooled: list[Entry] = []
    for index, (group, limit) in enumerate(zip(group_list, limits, strict=True)):
        _check_limit(f"per_source_limits[{index}]", limit)
        pooled.extend(group if limit is None else sort_entries(group)[:limit])

    keep: Callable[[Entry], bool] | None = (
        options.filters.compile().matches if options.filters.active else None
    )
    cutoff = None if options.max_age is None else now - options.max_age
    kept = [
        entry
        for entry in pooled
        if (keep is None or keep(entry))
        and (cutoff is None or entry.date is None or entry.date >= cutoff)
    ]
    result = sort_entries(
        dedupe(kept, dedupe_titles=options.dedupe_titles, title_threshold=options.title_threshold)
    )
    return result if options.limit is None else result[: options.limit]
