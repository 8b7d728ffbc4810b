"""scripts/extract_everyday_docs.py: shell code blocks of Markdown docs become command lines (other languages'
blocks, prose and other programs' lines do not); the committed held-out corpus is what the script writes."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "extract_everyday_docs.py"
CORPUS = REPO / "benchmarks" / "data" / "shell_everyday_docs.tsv"


def _load_script() -> SimpleNamespace:
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


MARKDOWN = """# widget

Run `widget --list` to see them (prose, not kept).

```sh
$ widget --name foo \\
    --size 3
other --thing
widget -o <output file>
```

```python
widget = make_widget()
```

~~~console
widget sync [flags]
widget -v 'a b'
~~~

```
widget -h
```
"""


def test_commands_come_from_shell_code_blocks_only() -> None:
    script = _load_script()
    assert script.markdown_commands(MARKDOWN, {"widget"}) == [
        "widget --name foo --size 3",
        "widget -o output_file",
        "widget -v 'a b'",
        "widget -h",
    ]


ROFF = r""".SH EXAMPLES
Find the word in a file:
.IP
$ widget \-w word file.txt
.PP
Long forms are shown in blocks only:
$ widget \-\-long \\
$ widget \fI\-\-style\/\fP
A sentence about $ widget that is prose.
.nf
$ widget \-\-name foo
.fi
"""


def test_man_pages_give_block_lines_and_prompted_lines() -> None:
    script = _load_script()
    assert set(script.man_commands(ROFF, {"widget"})) == {  # a prompted block line comes twice: one row
        "widget --name foo",
        "widget --style",
        "widget -w word file.txt",
    }


def test_committed_corpus_is_sorted_unique_and_from_listed_packages() -> None:
    rows = [
        line.split("\t")
        for line in CORPUS.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert len(rows) > 850 and all(len(row) == 3 for row in rows)
    assert rows == sorted(rows)
    commands = [row[2] for row in rows]
    assert len(commands) == len(set(commands))
    packages = set(_load_script().PACKAGES)
    assert {row[0] for row in rows} <= packages
    notice = CORPUS.with_suffix(".NOTICE").read_text(encoding="utf-8")
    assert all(name in notice for name in packages)
