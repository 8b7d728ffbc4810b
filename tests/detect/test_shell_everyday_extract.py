"""scripts/extract_everyday_man.py: example blocks of roff man pages become command lines, prose and other
programs' lines do not; the committed corpus is what the script writes (sorted, no duplicates)."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "extract_everyday_man.py"
CORPUS = REPO / "benchmarks" / "data" / "shell_everyday_man.tsv"


def _load_script() -> SimpleNamespace:
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


ROFF = r""".TH WIDGET 1
.SH EXAMPLES
widget \-\-list is mentioned in prose and is not kept.
.PP
.nf
$ widget \-\-name \fBfoo\fP \e
    \-\-size 3
# widget\-ctl stop \(aqall\(aq
other \-\-thing
widget \-o \[dq]x y\[dq] <output file>
.fi
.Vb 1
\&  widget \-v \*(Aqa b\*(Aq
.Ve
.Dl $ widget \-h
"""


def test_commands_come_from_example_blocks_only() -> None:
    script = _load_script()
    commands = script.commands_of(ROFF, {"widget", "widget-ctl"})
    assert commands == [
        "widget --name foo --size 3",
        "widget-ctl stop 'all'",
        'widget -o "x y" output_file',
        "widget -v 'a b'",
        "widget -h",
    ]


def test_a_line_bash_refuses_is_no_command() -> None:
    script = _load_script()
    assert script.bash_parses("widget --name 'x'")
    assert not script.bash_parses("widget --callback '")


def test_committed_corpus_is_sorted_and_unique() -> None:
    rows = [
        line.split("\t")
        for line in CORPUS.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert len(rows) > 2500 and all(len(row) == 3 for row in rows)
    assert rows == sorted(rows)
    commands = [row[2] for row in rows]
    assert len(commands) == len(set(commands))
    assert {row[0] for row in rows} <= set(_load_script().PACKAGES)


SYNOPSIS_ROFF = r""".SH SYNOPSIS
.nf
widget sync source:path dest:path [flags]
widget config create name type [key value]* [flags]
widget backend get drive: [\-o service_account_file]
widget [<options>] whoami
.fi
.SH EXAMPLES
.nf
widget sync ./site remote:site
widget \-q \(aq[paths]\(aq
widget \(aqtcp[tcpflags] != 0\(aq
widget \-\-glob [abc]*.txt
.fi
"""


def test_a_usage_synopsis_is_no_command() -> None:
    """Bare bracket grammar (`[flags]`, `[key value]*`, `[-o opt]`, `[<options>]`) marks a synopsis; brackets
    inside a quoted argument or attached to a word are the program's own syntax, and a glob class stays."""
    script = _load_script()
    assert script.commands_of(SYNOPSIS_ROFF, {"widget"}) == [
        "widget sync ./site remote:site",
        "widget -q '[paths]'",
        "widget 'tcp[tcpflags] != 0'",
        "widget --glob [abc]*.txt",
    ]
