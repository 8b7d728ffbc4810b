"""Where the OTLP receiver's CPU goes, stage by stage, in-process (no HTTP): protobuf parse, decode to
redacted rows (`to_rows`), and the store write (sanitize, lookups, INSERT, run upsert, commit).

    .venv/bin/python -m benchmarks.bench_ingest_stages
    # before/after: the same stages on another source tree, e.g. main's
    git archive main src | tar -x -C /tmp/main-src
    .venv/bin/python -m benchmarks.bench_ingest_stages --compare-src /tmp/main-src/src --compare-label main

The workload is bench_ingest's (OpenInference-style 5-span agent traces made by the OpenTelemetry SDK,
encoded as the OTLP exporter encodes them, 200 spans per request), every text new to the redactor's
memo. CPU time of this process (`time.process_time`), so other load on the machine hardly counts;
PostgreSQL's own server CPU is not included. Writes benchmarks/results/ingest_stages.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ingest_stages.md"
STAGES = ("parse", "to_rows", "write")
# OTLP/JSON: only its parse differs (both encodings end in the same request, then the same stages).
JSON_STAGE = "parse_json"
COMMAND = ".venv/bin/python -m benchmarks.bench_ingest_stages"


@contextlib.contextmanager
def _store_url(backend: str, pg: str) -> Iterator[str]:
    if backend == "postgresql":
        from benchmarks.bench_store import pg_schema

        with pg_schema(pg) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/stages.db"


def measure(backend: str, spans: int, pg: str) -> dict[str, float]:
    """CPU microseconds per span in each stage, for the railguard package this interpreter imports."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from benchmarks.bench_ingest import batches_of, build_spans, json_body
    from railguard.server.routes import _otlp_decode as decode
    from railguard.server.routes.otlp import OtlpSettings, warm_up
    from railguard.store import open_store

    batches = batches_of(build_spans(spans), 200)
    bodies = [encode_spans(batch).SerializeToString() for batch in batches]
    json_bodies = [json_body(batch) for batch in batches]
    settings = OtlpSettings()
    warm_up(settings)
    totals = dict.fromkeys((*STAGES, JSON_STAGE), 0.0)
    clock = time.process_time
    for body in json_bodies:
        began = clock()
        decode.parse_json(body)
        totals[JSON_STAGE] += clock() - began
    with _store_url(backend, pg) as url:
        store = open_store(url)
        try:
            for body in bodies:
                began = clock()
                request = decode.parse_protobuf(body)
                parsed = clock()
                batch = decode.to_rows(request, policy=settings.policy, tenant=None)
                decoded = clock()
                for row in batch.rows:
                    row.tenant = "default"  # as the receiver does for a tenant's key
                store.write_spans(batch.rows, isolate_tenants=True)
                written = clock()
                totals["parse"] += parsed - began
                totals["to_rows"] += decoded - parsed
                totals["write"] += written - decoded
        finally:
            store.close()
    return {stage: seconds / spans * 1e6 for stage, seconds in totals.items()}


def _measure_elsewhere(src: str | None, backend: str, spans: int, pg: str) -> dict[str, float]:
    """The same measurement in a fresh interpreter (importing railguard from `src` first, if given):
    no stage inherits another's warm caches."""
    paths = [src] if src else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(Path(__file__).parent.parent)])}
    args = [sys.executable, "-m", "benchmarks.bench_ingest_stages", "--one", backend, "--spans", str(spans)]
    out = subprocess.run([*args, "--pg", pg], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--compare-src", help="another tree's src/ directory, measured the same way")
    parser.add_argument("--compare-label", default="before")
    parser.add_argument("--one", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.spans, args.pg)))
        return
    rows: list[tuple[str, str, dict[str, float]]] = []
    for backend in ("sqlite", "postgresql"):
        if args.compare_src:
            rows.append(
                (
                    args.compare_label,
                    backend,
                    _measure_elsewhere(args.compare_src, backend, args.spans, args.pg),
                )
            )
        rows.append(("this tree", backend, _measure_elsewhere(None, backend, args.spans, args.pg)))
    load = os.getloadavg()
    lines = [
        "## OTLP ingest: server CPU per span by stage",
        "",
        f"Command: `{COMMAND}`"
        + (f" `--compare-src <{args.compare_label} src>`" if args.compare_src else ""),
        "",
        f"{args.spans:,} spans of bench_ingest's workload (OpenInference-style 5-span agent traces from the "
        "OpenTelemetry SDK, 200 spans per OTLP protobuf request), in-process, no HTTP; CPU time of the "
        "receiver's process (`time.process_time`), PostgreSQL's server CPU not included. Machine: 2 CPUs "
        f"shared with other work, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end.",
        "",
        "| code | store | parse us/span | to_rows us/span | write us/span | total us/span | OTLP/JSON parse us/span | OTLP/JSON total us/span |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, backend, stages in rows:
        cells = " | ".join(f"{stages[s]:.1f}" for s in STAGES)
        total = sum(stages[s] for s in STAGES)
        as_json = stages.get(JSON_STAGE)
        json_cells = (
            "- | -" if as_json is None else f"{as_json:.1f} | {total - stages['parse'] + as_json:.1f}"
        )
        lines.append(f"| {label} | {backend} | {cells} | {total:.1f} | {json_cells} |")
    lines += [
        "",
        "- parse: `ExportTraceServiceRequest.ParseFromString` (upb, C). to_rows: attributes out of the "
        "protobuf, every string redacted (secrets and PII), wide columns mapped, model calls priced. write: "
        "`Store.write_spans` (sanitize check, tenant claim, identity and duplicate lookups, INSERT, run "
        "upsert, commit). OTLP/JSON parse: `parse_json` of the same batches as OTLP/JSON bodies (JSON "
        "decode and the request built from it); its total is that plus the same to_rows and write.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
