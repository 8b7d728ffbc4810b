"""A first-sight `railguard check --json` stream in one process, for instruction counts and profiles.

Runs the command line's own entry over the first line of the everyday corpus, the warm-up lines of
`bench_check_stream` (every detector loaded), then the everyday corpus (every command new to the
process). The corpus stream runs inside `itertools.starmap` (which nothing else calls), so callgrind
can count it alone:

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next \\
        .venv/bin/python -m benchmarks.first_sight_driver --limit 600

Instructions per first-sight decision = the collected total / the corpus's lines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from itertools import starmap
from pathlib import Path

from benchmarks.bench_check_stream import check_in_process, stream_files
from benchmarks.bench_shell import everyday_rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", default="default")
    parser.add_argument("--limit", type=int, help="the first N lines of the corpus only")
    parser.add_argument("--profile", help="write a cProfile of the corpus stream to this file")
    opts = parser.parse_args()
    rows = everyday_rows()[: opts.limit]
    with tempfile.TemporaryDirectory() as tmp:
        one, warm, corpus = stream_files(Path(tmp), rows)
        check_in_process(opts.pack, one)
        check_in_process(opts.pack, warm)
        if opts.profile:
            import cProfile

            with cProfile.Profile() as profile:
                check_in_process(opts.pack, corpus)
            profile.dump_stats(opts.profile)
        else:
            list(starmap(check_in_process, [(opts.pack, corpus)]))
    print(f"{len(rows)} first-sight decisions", file=sys.stderr)


if __name__ == "__main__":
    main()
