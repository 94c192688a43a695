"""``benhan catalogue import``: a facility's drug / service / supply list from CSV or Excel (issue 5).

Every row is validated; the report lists each problem at its row and column. Nothing is stored while any row
is invalid (the exit status is then 1), and ``--dry-run`` only checks. The write goes through the repository
with the access layer, so it is versioned and audited like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from benhan.cli_access import _run

catalogue_app = typer.Typer(help="Facility drug / service / supply catalogues.", no_args_is_help=True)
KindName = Literal["drug", "service", "supply"]


def register_catalogue_commands(app: typer.Typer) -> None:
    app.add_typer(catalogue_app, name="catalogue")


def report_lines(outcome: Any) -> list[str]:
    """The per-row report, one line per problem: ``row 7, DON_GIA: "12,5": Not a valid number … / Không …``."""
    report = outcome.report
    lines = [f"{outcome.filename}: {report.rows_read} dòng/rows, {len(report.errors)} lỗi/errors"]
    for e in report.errors:
        where = "tệp/file" if e.row == 0 else f"dòng/row {e.row}" + (f", {e.column}" if e.column else "")
        value = f' "{e.value}"' if e.value else ""
        lines.append(f"  {where}{value}: {e.message_vi} / {e.message_en}")
    if report.ignored_columns:
        lines.append(f"  cột bỏ qua / ignored columns: {', '.join(report.ignored_columns)}")
    return lines


@catalogue_app.command("import")
def catalogue_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv (UTF-8) or .xlsx")],
    facility: Annotated[str, typer.Option(help="Facility BHYT code (e.g. 96001) or Organization id")],
    kind: Annotated[KindName, typer.Option(help="drug | service | supply")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report; store nothing")] = False,
) -> None:
    """Validate FILE and store it as the facility's catalogue (all rows or none)."""
    from benhan.terminology.facility_catalogues import find_facility, import_catalogue

    async def work(s: Any) -> Any:
        facility_id = await find_facility(s.repo, s.ctx, facility)
        return await import_catalogue(s.repo, s.ctx, facility_id, kind, file.read_bytes(), file.name, dry_run=dry_run)

    outcome = _run(work)
    for line in report_lines(outcome):
        typer.echo(line)
    if not outcome.report.ok:
        typer.echo("Không lưu gì: sửa các dòng lỗi rồi nhập lại. / Nothing stored: fix the rows and import again.")
        raise typer.Exit(1)
    if dry_run:
        typer.echo(
            f"Hợp lệ, chưa lưu (--dry-run). / Valid, not stored (--dry-run): {len(outcome.report.items)} mã/codes"
        )
    elif outcome.unchanged:
        typer.echo(f"Không đổi so với bản đang dùng / unchanged: version {outcome.version}")
    else:
        typer.echo(f"Đã lưu / stored: {len(outcome.report.items)} mã/codes, version {outcome.version} "
                   f"(CodeSystem/{kind_id(kind, outcome.facility_id)} _history/{outcome.version_id})")  # fmt: skip


def kind_id(kind: KindName, facility_id: str) -> str:
    from benhan.terminology.catalogue_fhir import catalogue_id

    return catalogue_id(kind, facility_id)
