"""The `kb-pipeline` command: the demo, cron runs, the sandbox, the UI, ad-hoc SQL and rebuilds."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kb_pipeline import stopping
from kb_pipeline.config import CONFIG_ENV_VAR, ConfigError, config_path, load_config

app = typer.Typer(
    help="Extract RAG knowledge-base inventories into DuckDB and Parquet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=f"YAML configuration (default: ${CONFIG_ENV_VAR})", show_default=False
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="warehouse directory (default: the config's data_dir, else ./data)"),
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _data_dir(data_dir: Path | None, config: Path | None) -> Path:
    if data_dir:
        return data_dir
    if config or os.environ.get(CONFIG_ENV_VAR):
        try:
            return load_config(config).data_dir
        except ConfigError as error:
            raise _fail(str(error)) from None
    return Path("data")


def _writable(data_dir: Path, config: Path | None) -> None:
    """Fail now, in one line, if the data directory cannot be written (not after a Dagster step)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        where = f"fix its permissions, or set data_dir in {config}" if config else "fix its permissions"
        raise _fail(f"data directory {data_dir} is not writable ({error.strerror}): {where}") from None


def _interrupted(signum: int) -> None:
    console.show_cursor(True)
    errors.print(
        f"interrupted ({signal.Signals(signum).name}): stopped at the last committed page, nothing more "
        "published; the next run resumes from there",
        highlight=False,
        soft_wrap=True,
    )


def _stoppable(work: Callable[[], None]) -> None:
    """Run `work`; Ctrl-C or SIGTERM stops it at its next safe point: one line, exit 130 or 143."""
    with stopping.stop_on_signals(_interrupted):
        try:
            stopping.in_worker(work)
        except BaseException:
            if stopping.requested() is None:  # a failure of its own, not one the stop caused
                raise
        if (signum := stopping.requested()) is not None:
            stopping.leave(signum)


def _run_pipeline(config_file: Path, ctx: typer.Context, **options: Any) -> None:
    """Materialize everything; the warehouse's summary only after a run that succeeded."""
    from kb_pipeline.runner import Outcome, materialize_all

    outcome = materialize_all(config_file, console=console, verbose=ctx.obj["verbose"], **options)
    stopping.check()
    if outcome is not Outcome.SUCCEEDED:
        raise typer.Exit(code=1)
    _summary(load_config(config_file).data_dir)


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log every retry and page; full tracebacks")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"verbose": verbose}


@app.command()
def demo(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(help="sandbox size: 1 ≈ 1,000 documents and 100 jobs")] = 1.0,
    seed: Annotated[int, typer.Option(help="sandbox data seed")] = 7,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="where the warehouse goes")] = Path("data"),
) -> None:
    """Run the whole pipeline against the built-in sandbox, then print what it built."""
    from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
    from kb_pipeline.sandbox.server import SandboxServer

    _writable(data_dir, None)

    def work() -> None:
        with SandboxServer(seed=seed, scale=scale, qps=None) as sandbox:
            console.print(
                f"sandbox serving every vendor at [bold]{sandbox.url}[/] (seed {seed}, scale {scale})"
            )
            export_sandbox_environment()
            config_file = write_sandbox_config(sandbox.url, sandbox.dataset, data_dir)
            _run_pipeline(config_file, ctx)

    _stoppable(work)


@app.command()
def run(
    ctx: typer.Context,
    config: ConfigOption = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="re-read every listing in full")
    ] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="only this source (repeatable)")
    ] = None,
    lock_timeout: Annotated[
        float, typer.Option("--lock-timeout", help="seconds to wait for another run's write lock")
    ] = 60.0,
) -> None:
    """Materialize the pipeline's assets without the UI (for cron).

    Exit codes: 0 done, 1 a stream, step or check failed, 2 nothing ran (bad configuration or
    arguments), 130 or 143 stopped by SIGINT or SIGTERM (the next run resumes).
    """

    def work() -> None:
        try:
            cfg_path = config_path(config)
            data_dir = load_config(cfg_path).data_dir
        except ConfigError as error:
            raise _fail(str(error)) from None
        from kb_pipeline.runner import streams_to_run

        try:
            streams_to_run(cfg_path, source)
        except ValueError as error:
            raise _fail(f"{cfg_path}: {error}") from None
        _writable(data_dir, cfg_path)
        _run_pipeline(cfg_path, ctx, full_refresh=full_refresh, sources=source, lock_timeout_s=lock_timeout)

    _stoppable(work)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    seed: Annotated[int, typer.Option(help="data seed")] = 7,
    scale: Annotated[
        float, typer.Option(help="1 ≈ 1,000 documents and 100 jobs; 200 ≈ 200,000 and 20,000")
    ] = 1.0,
    qps: Annotated[bool, typer.Option("--qps/--no-qps", help="apply the vendors' request limits")] = True,
) -> None:
    """Serve the local imitation of all four vendors' APIs."""
    from kb_pipeline.sandbox.server import serve

    serve(host=host, port=port, seed=seed, scale=scale, qps="default" if qps else None, announce=print)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Dagster UI port")] = 3000,
    scale: Annotated[float, typer.Option(help="sandbox size")] = 1.0,
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
) -> None:
    """Open the Dagster UI (`dagster dev`) wired to a sandbox started here."""
    from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
    from kb_pipeline.instance import open_instance, use_shared_instance, write_workspace
    from kb_pipeline.sandbox.server import SandboxServer

    with SandboxServer(seed=7, scale=scale, qps=None) as server:
        export_sandbox_environment()
        config_file = write_sandbox_config(server.url, server.dataset, data_dir)
        home = use_shared_instance()
        with open_instance(home):
            pass  # creates its storages and guards its pool slots before dagster dev's processes claim any
        workspace = write_workspace(data_dir)
        env = {**os.environ, CONFIG_ENV_VAR: str(config_file.resolve())}
        console.print(f"sandbox at {server.url}; Dagster UI at http://127.0.0.1:{port} (Ctrl-C stops both)")
        console.print(f"Dagster instance: {home}", highlight=False)
        command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-h", "127.0.0.1"]
        # run from the data directory: a project `.env` there would set DAGSTER_HOME over ours.
        # A shell that starts us in the background ignores SIGINT, and children inherit that:
        # restore the defaults for dagster dev, and pass our INT or TERM on to its process group
        child = subprocess.Popen(
            [*command, "-p", str(port)],
            env=env,
            cwd=data_dir,
            start_new_session=True,
            preexec_fn=_default_signals,
        )

        def stop(signum: int, frame: object) -> None:
            os.killpg(child.pid, signal.SIGINT)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        child.wait()


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run against the warehouse (read-only)")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, json or markdown", metavar="FORMAT")
    ] = "table",
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="rows to print at most (default: 50 for table and markdown, all for csv and json)"
        ),
    ] = None,
) -> None:
    """Answer an ad-hoc query; only reading the warehouse is allowed (no files, no writes)."""
    import duckdb

    from kb_pipeline.query_output import OutputFormat, write_answer
    from kb_pipeline.warehouse import WarehouseError
    from kb_pipeline.warehouse.reading import read_query

    if output_format not in OutputFormat.__members__:
        raise _fail(f"--format {output_format}: choose table, csv, json or markdown")
    directory = _data_dir(data_dir, config)
    try:
        with read_query(directory, query) as (columns, cursor):
            left_out = write_answer(
                columns,
                cursor,
                sys.stdout,
                output_format=OutputFormat(output_format),
                limit=limit,
                terminal=sys.stdout.isatty(),
            )
    except (WarehouseError, duckdb.Error) as error:
        raise _fail(str(error)) from None
    if left_out:
        errors.print(f"… {left_out:,} more rows (use --limit, or --format csv for all)", highlight=False)


@app.command()
def rebuild(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Recreate every table from the raw landing, without calling any API."""
    from kb_pipeline.rebuild import rebuild_warehouse

    directory = _data_dir(data_dir, config)
    with console.status("rebuilding from raw pages…"):
        counts = rebuild_warehouse(directory)
    _print_counts(counts)


def _print_counts(counts: dict[str, int]) -> None:
    table = Table("table", "rows", header_style="bold")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


def _summary(data_dir: Path) -> None:
    from kb_pipeline.warehouse import table_counts

    _print_counts(table_counts(data_dir))
    console.print(f"warehouse: [bold]{data_dir / 'warehouse.duckdb'}[/]")
    console.print(f"Parquet feeds: [bold]{data_dir / 'feeds'}[/]")
    where = "" if data_dir.resolve() == Path("data").resolve() else f" --data-dir {data_dir}"
    console.print(f'query it:    kb-pipeline sql "select * from kb_inventory"{where}', soft_wrap=True)
    console.print("open the UI: kb-pipeline ui", soft_wrap=True)
