"""The ``benhan`` command: serve, migrate, demo, version (and more as features land)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from benhan import __version__

app = typer.Typer(help="benhan: FHIR-native EMR for a Vietnamese province.", no_args_is_help=True)


@contextmanager
def database(data_dir: Path | None = None) -> Iterator[str]:
    """The database URL: DATABASE_URL if set, else the embedded server (started, and stopped on exit)."""
    from benhan.kernel.db import ensure_database, start_embedded
    from benhan.settings import get_settings

    settings = get_settings()
    url = settings.database_url
    if url:
        yield url
        return
    embedded = start_embedded(data_dir or settings.data_dir)
    try:
        asyncio.run(ensure_database(embedded.url))
        yield embedded.url
    finally:
        embedded.stop()


@app.command()
def version() -> None:
    """Print the benhan version."""
    typer.echo(f"benhan {__version__}")


@app.command()
def migrate() -> None:
    """Apply schema migrations (idempotent; safe from several processes at once)."""
    from benhan import migrate as migrations

    with database() as url:
        migrations.upgrade(url)
        typer.echo(f"schema at {migrations.head_revision()}")


def _serve(url: str, host: str, port: int, workers: int) -> None:
    from benhan import server

    # Workers are separate processes: they find the database through the environment.
    os.environ["DATABASE_URL"] = url
    server.run(host, port, workers)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving")] = True,
) -> None:
    """Serve the web app and the FHIR API (Ctrl-C stops it, and the embedded database, cleanly)."""
    from benhan import migrate as migrations
    from benhan.settings import get_settings

    settings = get_settings()
    with database() as url:
        if migrate:
            migrations.upgrade(url)
        _serve(url, host or settings.host, port or settings.port, workers or settings.workers)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    load_only: Annotated[bool, typer.Option("--load-only", help="Load demo data, do not serve")] = False,
    patients: Annotated[int, typer.Option(help="Synthetic patients in the demo province")] = 300,
) -> None:
    """Migrate, load the demo province once, and serve http://127.0.0.1:8000."""
    os.environ.setdefault("BENHAN_MODE", "demo")
    from benhan import migrate as migrations
    from benhan.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    with database() as url:
        migrations.upgrade(url)
        from benhan.synth.cli import run_demo_load

        run_demo_load(url, patients=patients)
        if load_only:
            return
        typer.echo(
            f"\n  benhan {__version__} demo is running.\n"
            f"  Open   http://127.0.0.1:{port}/\n"
            f"  FHIR   http://127.0.0.1:{port}/fhir/metadata\n"
            f"  Data   {settings.data_dir.resolve()} (kept between runs)\n"
            "  Stop   Ctrl-C\n"
        )
        _serve(url, "127.0.0.1", port, settings.workers)


@app.command()
def synth(
    patients: Annotated[int, typer.Option(help="Number of patients")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data)")] = 1,
    out: Annotated[Path | None, typer.Option(help="Write files to this folder")] = None,
    fmt: Annotated[str, typer.Option("--format", help="bundle (one transaction per patient) or ndjson")] = "bundle",
    load: Annotated[bool, typer.Option("--load", help="Load into the database (COPY fast path)")] = False,
    workers: Annotated[int, typer.Option(help="Loader processes")] = 2,
) -> None:
    """Generate synthetic patients with complete histories: files (Bundles or NDJSON) and/or a fast load."""
    from benhan.synth.cli import run_synth

    if out is None and not load:
        raise typer.BadParameter("give --out DIR, --load, or both")
    if load:
        from benhan import migrate as migrations

        with database() as url:
            migrations.upgrade(url)
            run_synth(url, patients=patients, seed=seed, out=out, fmt=fmt, load=True, workers=workers, as_of=None)
    else:
        run_synth(None, patients=patients, seed=seed, out=out, fmt=fmt, load=False, workers=workers, as_of=None)


@app.command()
def reindex(
    workers: Annotated[int, typer.Option(help="extraction processes (0: one per CPU)")] = 0,
    batch: Annotated[int, typer.Option(help="resources per COPY batch")] = 2000,
) -> None:
    """Rebuild the search index (after the extraction rules or search parameters change), with progress."""
    from benhan import migrate as migrations
    from benhan.cli_reindex import run_reindex

    with database() as url:
        migrations.upgrade(url)
        run_reindex(url, workers, batch)


terminology_app = typer.Typer(help="Code lists (ICD-10, ICD-9-CM, LOINC, administrative units, catalogues).")
app.add_typer(terminology_app, name="terminology")


@terminology_app.command("load")
def terminology_load() -> None:
    """Load the packaged code lists as CodeSystem and ValueSet resources (idempotent)."""
    from benhan import migrate as migrations
    from benhan.synth.cli import run_terminology_load

    with database() as url:
        migrations.upgrade(url)
        run_terminology_load(url)


def _register_access() -> None:
    # benhan user | client | facility | department | audit | access (issue 4; benhan/cli_access.py)
    from benhan.cli_access import register_access_commands

    register_access_commands(app, database)
    from benhan.cli_catalogue import register_catalogue_commands

    register_catalogue_commands(app)


_register_access()


def main() -> None:
    app()
