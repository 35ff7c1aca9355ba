"""The ``feedloom`` command line: a thin layer over the library.

Exit codes (also in the README):
  0 success · 1 unexpected feedloom error · 2 bad usage or config · 3 a source failed
  (every source of a feed, or any with ``fail_on_source_error``) · 4 output not
  writable · 5 state store unusable · 75 another feedloom holds the state lock.

Heavy modules (requests, feedgen, APScheduler, waitress) are imported inside the
commands that need them: cron pays the CLI's import time on every run.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from feedloom import __version__
from feedloom.errors import ConfigError, FeedloomError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_FEEDS = Path("feeds")
DEFAULT_OUTPUT = Path("output")
DEFAULT_STATE = Path(".feedloom/state.sqlite")


def _fail(exc: FeedloomError, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    click.echo(f"feedloom: error: {exc}", err=True)
    sys.exit(exc.exit_code)


def handle_errors(func: F) -> F:
    """Turn FeedloomError into a one-line message and its exit code (traceback with --debug)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return func(*args, **kwargs)
        except FeedloomError as exc:
            _fail(exc, debug)
        return None

    return wrapper  # type: ignore[return-value]


def resolve_now(now: str | None) -> datetime | None:
    """The build clock: ``--now`` (ISO 8601), else ``SOURCE_DATE_EPOCH``, else None (real time).

    Raises:
        ConfigError: for a malformed value.
    """
    if now:
        try:
            value = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"expected an ISO 8601 time like 2025-01-01T08:00:00+08:00, got {now!r}",
                key="--now",
            ) from None
        if value.tzinfo is None:
            raise ConfigError(f"expected a time with a UTC offset, got {now!r}", key="--now")
        return value.astimezone(UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError):
            raise ConfigError(
                f"expected integer seconds since 1970, got {epoch!r}", key="SOURCE_DATE_EPOCH"
            ) from None
    return None


feeds_option = click.option(
    "--feeds",
    "feeds_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_FEEDS,
    show_default=True,
    help="Folder of feed files (*.toml).",
)
output_option = click.option(
    "--output",
    "output_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Folder the feeds are written to.",
)
state_option = click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="SQLite state file (first-seen dates, HTTP caching, history).",
)
wait_option = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds to wait for another feedloom holding the state lock.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedloom")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log line format (json: one object per line).",
)
def main(debug: bool, log_format: str) -> None:
    """Publish pages as RSS 2.0, Atom 1.0 and JSON Feed, and merge external feeds."""
    from feedloom.logs import configure_logging

    configure_logging("json" if log_format == "json" else "text", "DEBUG" if debug else "INFO")


@main.command()
@feeds_option
@output_option
@state_option
@wait_option
@click.option("--now", help="Build clock (ISO 8601); default SOURCE_DATE_EPOCH or the real time.")
@click.option("--force", is_flag=True, help="Fetch external feeds even when backing off.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Report only feeds with failures or warnings (for cron)."
)
@click.argument("only", nargs=-1)
@handle_errors
def build(
    feeds_dir: Path,
    output_dir: Path,
    state_path: Path,
    wait: float,
    now: str | None,
    force: bool,
    quiet: bool,
    only: tuple[str, ...],
) -> None:
    """Build every feed in --feeds (or only the named ones) once, then exit (for cron)."""
    from feedloom.runner import run_build

    report = run_build(
        feeds_dir=feeds_dir,
        output_dir=output_dir,
        state_path=state_path,
        now=resolve_now(now),
        force=force,
        only=only,
        wait=wait,
        echo=click.get_current_context().find_root().params.get("log_format", "text"),
        quiet=quiet,
    )
    sys.exit(report.exit_code)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--timezone", default="UTC", show_default=True, help="Timezone for dates without an offset."
)
@handle_errors
def check(files: tuple[Path, ...], timezone: str) -> None:
    """Parse feed files (ours or anyone's) and report problems."""
    from feedloom.checking import check_files

    sys.exit(check_files(files, timezone=timezone))


@main.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--opml",
    "opml_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Also merge every feed of this OPML subscription list (repeatable).",
)
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(path_type=Path),
    help="Write here instead of stdout.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["rss", "atom", "json"]), default="rss", show_default=True
)
@click.option("--limit", type=click.IntRange(min=1), help="Keep at most N entries.")
@click.option("--title", default="Merged feed", show_default=True, help="Title of the merged feed.")
@click.option("--link", default=None, help="Home page URL of the merged feed.")
@click.option(
    "--dedupe-titles", is_flag=True, help="Also merge entries with near-identical titles."
)
@click.option("--now", help="Clock for undated entries (ISO 8601).")
@handle_errors
def merge(
    sources: tuple[str, ...],
    opml_files: tuple[Path, ...],
    output_file: Path | None,
    fmt: str,
    limit: int | None,
    title: str,
    link: str | None,
    dedupe_titles: bool,
    now: str | None,
) -> None:
    """Merge feeds (URLs or files) into one, ad hoc; failing sources are reported on stderr."""
    from feedloom.api import merge_feeds
    from feedloom.output import publish

    every = list(sources)
    if opml_files:
        from feedloom.opml import read_opml

        for opml_file in opml_files:
            opml = read_opml(opml_file)
            for message in opml.skipped:
                click.echo(f"feedloom: warning: {opml_file}: {message}", err=True)
            every += [s.url for s in opml.subscriptions if s.url not in every]
    if not every:
        raise click.UsageError("give feeds to merge: URLs, files or --opml FILE")
    sources = tuple(every)
    feed = merge_feeds(
        list(sources),
        limit=limit,
        title=title,
        link=link,
        dedupe_titles=dedupe_titles,
        now=resolve_now(now),
    )
    for err in feed.errors:
        click.echo(f"feedloom: warning: {err}", err=True)
    data = feed.render(fmt)
    if output_file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        publish(output_file, data)
    if feed.errors and len(feed.errors) == len(sources):
        sys.exit(3)


@main.command("import-opml")
@click.argument("opml_file", type=click.Path(path_type=Path))
@click.option("--name", help="Feed name (the file feeds/NAME.toml); default: the OPML file's stem.")
@click.option("--site-url", required=True, help="Home page URL of the merged feed.")
@click.option("--title", help="Title of the merged feed; default: the OPML title.")
@feeds_option
@click.option("--force", is_flag=True, help="Replace an existing feed file of that name.")
@handle_errors
def import_opml(
    opml_file: Path,
    name: str | None,
    site_url: str,
    title: str | None,
    feeds_dir: Path,
    force: bool,
) -> None:
    """Make feeds/NAME.toml merging every feed of an OPML subscription list."""
    from feedloom.opml import import_opml as run_import

    path, opml = run_import(
        opml_file, feeds_dir=feeds_dir, name=name, site_url=site_url, title=title, force=force
    )
    for message in opml.skipped:
        click.echo(f"feedloom: warning: {opml_file}: {message}", err=True)
    click.echo(f"{path}: {len(opml.subscriptions)} sources from {opml_file}", err=True)


@main.command()
@feeds_option
@state_option
@click.option("--json", "as_json", is_flag=True, help="One JSON array of sources, for scripts.")
@click.option(
    "--fail-after",
    metavar="DURATION",
    help="Only check: exit 3, naming them, if configured sources have had no success "
    "for this long ('6h'); silent otherwise. For monitors.",
)
@click.option("--now", help="Clock for --fail-after (ISO 8601); default the real time.")
@handle_errors
def status(
    feeds_dir: Path, state_path: Path, as_json: bool, fail_after: str | None, now: str | None
) -> None:
    """List each source: last fetch, HTTP status, entries, last error, next allowed fetch."""
    from feedloom.runner import source_statuses, stale_sources, status_line, status_record

    if fail_after is not None:
        from feedloom.config import parse_duration

        try:
            max_age = parse_duration(fail_after)
        except ValueError as exc:
            raise ConfigError(str(exc), key="--fail-after") from None
        clock = resolve_now(now) or datetime.now(UTC)
        problems = stale_sources(
            feeds_dir=feeds_dir, state_path=state_path, now=clock, max_age=max_age
        )
        for problem in problems:
            click.echo(f"feedloom: stale: {problem}", err=True)
        # A check for monitors and cron: silent when all is well, like build --quiet.
        sys.exit(3 if problems else 0)
    rows = source_statuses(feeds_dir=feeds_dir, state_path=state_path)
    if as_json:
        import json

        data = [status_record(status, configured) for status, configured in rows]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no sources have been built yet")
    for status, configured in rows:
        click.echo(status_line(status, configured))


@main.command()
@feeds_option
@output_option
@state_option
@wait_option
@click.option("--force", is_flag=True, help="Ignore external feeds' freshness hints and backoff.")
@handle_errors
def run(feeds_dir: Path, output_dir: Path, state_path: Path, wait: float, force: bool) -> None:
    """Run as a service: rebuild each feed on its schedule until SIGTERM/SIGINT."""
    from feedloom.runner import run_service

    sys.exit(
        run_service(
            feeds_dir=feeds_dir,
            output_dir=output_dir,
            state_path=state_path,
            wait=wait,
            force=force,
        )
    )


@main.command()
@output_option
@feeds_option
@state_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--schedule", is_flag=True, help="Also run the scheduler in this process.")
@handle_errors
def serve(
    output_dir: Path, feeds_dir: Path, state_path: Path, host: str, port: int, schedule: bool
) -> None:
    """Serve --output to feed readers (ETag/304, gzip), optionally rebuilding on schedule."""
    from feedloom.runner import serve_output

    sys.exit(
        serve_output(
            output_dir=output_dir,
            feeds_dir=feeds_dir,
            state_path=state_path,
            host=host,
            port=port,
            schedule=schedule,
        )
    )
