"""The `kb-pipeline` command: the demo, cron runs, the sandbox, the UI, ad-hoc SQL and rebuilds."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
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


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log every retry and page")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def demo(
    scale: Annotated[float, typer.Option(help="sandbox size: 1 ≈ 1,000 documents and 100 jobs")] = 1.0,
    seed: Annotated[int, typer.Option(help="sandbox data seed")] = 7,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="where the warehouse goes")] = Path("data"),
) -> None:
    """Run the whole pipeline against the built-in sandbox, then print what it built."""
    from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
    from kb_pipeline.runner import materialize_all
    from kb_pipeline.sandbox.server import SandboxServer

    with SandboxServer(seed=seed, scale=scale, qps=None) as sandbox:
        console.print(
            f"sandbox serving all four vendors at [bold]{sandbox.url}[/] (seed {seed}, scale {scale})"
        )
        export_sandbox_environment()
        config_file = write_sandbox_config(sandbox.url, sandbox.dataset, data_dir)
        ok = materialize_all(config_file, console=console)
    _summary(load_config(config_file).data_dir)
    if not ok:
        raise typer.Exit(code=1)


@app.command()
def run(
    config: ConfigOption = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="re-read every listing in full")
    ] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="only this source (repeatable)")
    ] = None,
) -> None:
    """Materialize the pipeline's assets without the UI (for cron)."""
    from kb_pipeline.runner import materialize_all

    try:
        cfg_path = config_path(config)
        load_config(cfg_path)
    except ConfigError as error:
        raise _fail(str(error)) from None
    ok = materialize_all(cfg_path, full_refresh=full_refresh, sources=source, console=console)
    _summary(load_config(cfg_path).data_dir)
    if not ok:
        raise typer.Exit(code=1)


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
    from kb_pipeline.sandbox.server import SandboxServer

    with SandboxServer(seed=7, scale=scale, qps=None) as server:
        export_sandbox_environment()
        config_file = write_sandbox_config(server.url, server.dataset, data_dir)
        home = Path(__file__).resolve().parents[1] / "dagster_home"
        env = {**os.environ, CONFIG_ENV_VAR: str(config_file.resolve()), "DAGSTER_HOME": str(home)}
        console.print(f"sandbox at {server.url}; Dagster UI at http://127.0.0.1:{port} (Ctrl-C stops both)")
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "kb_pipeline.defs",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        # a shell that starts us in the background ignores SIGINT, and children inherit that:
        # restore the defaults for dagster dev, and pass our INT or TERM on to its process group
        child = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_default_signals)

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
