"""The ``feedservice`` command: serve (the default), get, check-store, validate.

Exit codes: 0 ok, 1 problems found, 2 bad usage or could not run. Data goes to stdout, diagnostics to
stderr. Every option can also be set with the ``FEEDSERVICE_*`` variable named in its help.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any

import click

from . import __version__
from .config import ConfigError
from .errors import FeedserviceError, StoreError
from .server import SERVERS

log = logging.getLogger(__name__)


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _make_app(overrides: dict[str, Any]) -> Any:
    """Returns the app, or exits 1 with the store's problems (never a traceback)."""
    from . import create_app

    try:
        return create_app({k: v for k, v in overrides.items() if v is not None})
    except StoreError as e:
        click.echo(f"feedservice: refusing to start: the store has {len(e.problems)} problem(s):", err=True)
        click.echo(str(e), err=True)
        sys.exit(1)
    except ConfigError as e:
        click.echo(f"feedservice: {e}", err=True)
        sys.exit(2)


store_option = click.option(
    "--store", type=click.Path(dir_okay=False), envvar="FEEDSERVICE_STORE", help="Article store (FEEDSERVICE_STORE)."
)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedservice")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Atom, RSS and JSON Feed service for the Smart City Comprehensive Portal. Without a command: serve."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="FEEDSERVICE_HOST", help="Address to listen on (FEEDSERVICE_HOST).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), envvar="FEEDSERVICE_PORT", help="Port (FEEDSERVICE_PORT).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), envvar="FEEDSERVICE_WORKERS", help="Worker processes (FEEDSERVICE_WORKERS).")
@click.option("--threads", default=None, type=click.IntRange(1, 256), envvar="FEEDSERVICE_THREADS", help="Threads per worker for requests the cache cannot answer: default 2 with feedservice's server, 8 with granian or gunicorn (FEEDSERVICE_THREADS).")
@click.option("--server", "server_name", default=SERVERS[0], show_default=True, type=click.Choice(SERVERS), envvar="FEEDSERVICE_SERVER", help="HTTP server: feedservice's own (asyncserver), granian or gunicorn (FEEDSERVICE_SERVER).")
def serve(store: str | None, host: str, port: int, workers: int, threads: int | None, server_name: str) -> None:
    """Serve the feeds with the production server."""
    from .live import hand_down
    from .server import run

    _setup_logging()
    if store:
        os.environ["FEEDSERVICE_STORE"] = store  # workers build their app from the environment
    # Fail fast, with the store's problems, before any worker starts. The workers build their own apps, from
    # this store when they are forked (live.hand_down), so the file is read once, not once per worker.
    app = _make_app({"RELOAD_SECONDS": 0})
    hand_down(app.extensions["feedservice"].live)
    del app
    gc.collect()
    run(host=host, port=port, workers=workers, threads=threads, server=server_name)


@cli.command()
@click.argument("path")
@store_option
@click.option("--header", "-H", multiple=True, help="Request header 'Name: value' (repeatable).")
@click.option("--include", "-i", is_flag=True, help="Print the status line and headers first.")
def get(path: str, store: str | None, header: tuple[str, ...], include: bool) -> None:
    """Answer one request for PATH in-process and print the body; exit 0 only on 200."""
    app = _make_app({"STORE": store, "RELOAD_SECONDS": 0})
    headers = {}
    for h in header:
        name, sep, value = h.partition(":")
        if not sep:
            raise click.UsageError(f"--header {h!r} is not 'Name: value'")
        headers[name.strip()] = value.strip()
    with app.test_client() as client:
        resp = client.get(path, headers=headers)
    if include:
        click.echo(f"HTTP/1.1 {resp.status}")
        for k, v in resp.headers.items():
            click.echo(f"{k}: {v}")
        click.echo("")
    sys.stdout.buffer.write(resp.get_data())
    sys.stdout.flush()
    if resp.status_code != 200:
        click.echo(f"feedservice get: {path}: {resp.status}", err=True)
        sys.exit(1)


@cli.command("check-store")
@click.argument("path", required=False, envvar="FEEDSERVICE_STORE", default="data/articles.json")
def check_store(path: str) -> None:
    """Check the article store at PATH; print its problems and exit 1, or a summary and exit 0."""
    from .loader import load_store

    try:
        store = load_store(path)
    except StoreError as e:
        click.echo(str(e))
        click.echo(f"{path}: {len(e.problems)} problem(s); nothing was changed", err=True)
        sys.exit(1)
    withdrawn = sum(1 for a in store.articles if a.withdrawn)
    click.echo(
        f"{path}: ok: {len(store.articles)} articles ({withdrawn} withdrawn), {len(store.ministries)} ministries, "
        f"{len(store.topics)} topics, version {store.version}"
    )


@cli.command()
@click.argument("sources", nargs=-1, metavar="[FILE_OR_URL]...")
@store_option
@click.option("--url", "server", metavar="URL", help="Validate the server running at URL (e.g. http://127.0.0.1:8000) against the store, with HTTP checks.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="text: a line per problem and a summary; json: one object.")
@click.option("--list-rules", is_flag=True, help="Print every rule with its severity and spec section, and exit.")
def validate(sources: tuple[str, ...], store: str | None, server: str | None, output: str, list_rules: bool) -> None:
    """Validate feeds: every document of the store, in process or on a running server (--url), or any FILE_OR_URL.

    Exit 0 when clean (warnings allowed), 1 when problems were found, 2 when it could not run.
    """
    import time

    from . import validate as v
    from . import validate_store
    from .config import DEFAULTS
    from .errors import ValidationFailed
    from .validate_http import HttpFetcher

    if list_rules:
        click.echo("\n".join(v.rules_table()))
        return
    if sources and server:
        raise click.UsageError("give FILE_OR_URL arguments or --url, not both")
    if server and not server.startswith(("http://", "https://")):
        raise click.UsageError(f"--url {server!r} is not an http(s) URL; write e.g. http://127.0.0.1:8000")
    report = v.Report()
    failures: list[str] = []
    started = time.perf_counter()
    try:
        if sources:
            what = f"{len(sources)} file(s) or URL(s)"
            failures = v.validate_sources(sources, report)
        else:
            path = store or DEFAULTS["STORE"]
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise ValidationFailed(f"cannot read the store {path}; give --store PATH or set FEEDSERVICE_STORE")
            # No rate limit in process: every request comes from the one test client.
            app = _make_app({"STORE": store, "RELOAD_SECONDS": 0, "RATE_LIMIT": ""})
            what = f"{server} with the store {path}" if server else f"the store {path}"
            validate_store.run(app, report, fetcher=HttpFetcher(server) if server else None, http=bool(server))
    except ValidationFailed as e:
        click.echo(f"feedservice validate: {e}", err=True)
        sys.exit(2)
    seconds = time.perf_counter() - started
    if output == "json":
        click.echo(v.render_json(report, what, seconds, failures))
    else:
        click.echo("\n".join(v.render_text(report, what, seconds)))
    for failure in failures:
        click.echo(f"feedservice validate: {failure}", err=True)
    sys.exit(2 if failures else 1 if report.errors else 0)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except FeedserviceError as e:
        click.echo(f"feedservice: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
