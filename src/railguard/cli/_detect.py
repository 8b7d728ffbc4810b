"""`railguard redact` (text in, redacted text out) and `railguard scan` (files and folders, for CI)."""

from __future__ import annotations

import bisect
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, highlight=False, soft_wrap=True)

KindsOpt = Annotated[
    str | None, typer.Option("--kinds", help="Comma-separated kinds (or 'secrets', 'pii'); default: all.")
]
SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
}


def _kinds(value: str | None, default: frozenset[str] | None) -> frozenset[str] | None:
    from railguard.detect.redact import ALL_KINDS, PII_KINDS, SECRET_KINDS

    if value is None:
        return default
    groups = {"secrets": SECRET_KINDS, "pii": PII_KINDS}
    kinds: set[str] = set()
    for name in (k.strip() for k in value.split(",") if k.strip()):
        if name in groups:
            kinds |= groups[name]
        elif name in ALL_KINDS:
            kinds.add(name)
        else:
            err.print(
                f"[red]unknown kind:[/red] {escape(name)}; use secrets, pii or: {', '.join(sorted(ALL_KINDS))}"
            )
            raise typer.Exit(2)
    return frozenset(kinds)


def redact_cmd(
    input: Annotated[str, typer.Option("--input", "-i", help="A file, or - for stdin.")] = "-",
    as_json: Annotated[
        bool, typer.Option("--json", help="The redacted text and the findings as JSON.")
    ] = False,
    kinds: KindsOpt = None,
) -> None:
    r"""Replace secrets and PII with \[redacted:kind]. With --json: {"text", "findings": [{kind, start, end}]}
    (positions in characters of the input; the values themselves are never printed)."""
    from railguard.detect.redact import redact

    try:
        text = sys.stdin.read() if input == "-" else Path(input).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        err.print(f"[red]cannot read:[/red] {escape(input)}: {escape(e.strerror or str(e))}")
        raise typer.Exit(2) from None
    result = redact(text, _kinds(kinds, None))
    if as_json:
        findings = [{"kind": f.kind, "start": f.start, "end": f.end} for f in result.findings]
        sys.stdout.write(json.dumps({"text": result.text, "findings": findings}) + "\n")
    else:
        sys.stdout.write(result.text)


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not SKIP_DIRS.intersection(child.relative_to(path).parts[:-1]):
                    yield child
        else:
            err.print(f"[red]no such file or directory:[/red] {escape(str(path))}")
            raise typer.Exit(2)


def scan_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to scan.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON finding per line.")] = False,
    kinds: KindsOpt = None,
    max_bytes: Annotated[int, typer.Option(help="Skip files larger than this.")] = 5_000_000,
) -> None:
    """Scan files for secrets (default) or the given kinds; prints path:line:column and the kind, never
    the value. Exit 1 when anything is found (for CI), 2 on bad arguments."""
    from railguard.detect.redact import SECRET_KINDS, find_sensitive

    wanted = _kinds(kinds, SECRET_KINDS)
    found = scanned = 0
    for file in _files(paths):
        try:
            if file.stat().st_size > max_bytes:
                continue
            data = file.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        scanned += 1
        line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        for finding in find_sensitive(text, wanted):
            found += 1
            line = bisect.bisect_right(line_starts, finding.start)
            column = finding.start - line_starts[line - 1] + 1
            if as_json:
                record = {"path": str(file), "line": line, "column": column, "kind": finding.kind}
                sys.stdout.write(json.dumps(record) + "\n")
            else:  # plain, unwrapped lines: this format is for grep and CI logs
                sys.stdout.write(f"{file}:{line}:{column}: {finding.kind}\n")
    if not as_json:
        err.print(f"{found} finding(s) in {scanned} file(s)")
    if found:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("redact")(redact_cmd)
    app.command("scan")(scan_cmd)
