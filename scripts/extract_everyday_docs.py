"""Extract a held-out everyday corpus from the documentation of a second set of Debian 12 packages (issue 16).

    python scripts/extract_everyday_docs.py [--debs DIR] [--out benchmarks/data/shell_everyday_docs.tsv]

Same method as scripts/extract_everyday_man.py (whose helpers it uses) on packages that corpus does not hold,
plus the man pages' `$ `-prompted lines outside example blocks and a second kind of documentation: the fenced code blocks (```sh, ```bash, ```console, ```shell or bare
fences) of the Markdown READMEs and guides those packages ship under /usr/share/doc. A line is kept when its
first word is a program of the same package (Debian renames some: `fdfind` is documented as `fd`, `batcat`
as `bat`). Every package here is permissively licensed or public domain (shell_everyday_docs.NOTICE).
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract_everyday_man import (  # a script beside this one, not a package
    build_corpus,
    commands_in,
    commands_of,
    join_continued,
    one_per_command,
    programs_of,
    unescape,
    usable,
)

# Package -> (version, licence of its documentation). Versions pinned (Debian 12) for a reproducible corpus.
PACKAGES: dict[str, tuple[str, str]] = {
    "age": ("1.1.1-1+b3", "BSD-3-Clause"),
    "asciidoctor": ("2.0.18-2", "MIT"),
    "autossh": ("1.4g-1+b1", "BSD-style (Carson Harding)"),
    "apache2-utils": ("2.4.71-1~deb12u1", "Apache-2.0"),
    "bat": ("0.22.1-4", "MIT or Apache-2.0"),
    "bpftrace": ("0.17.0-1", "Apache-2.0"),
    "brotli": ("1.0.9-2+deb12u1", "MIT"),
    "cargo": ("0.66.0+ds1-1", "MIT or Apache-2.0"),
    "cmake": ("3.25.1-1", "BSD-3-Clause"),
    "direnv": ("2.32.1-2+b4", "MIT"),
    "docker-compose": ("1.29.2-3", "Apache-2.0"),
    "entr": ("5.3-1", "ISC"),
    "exa": ("0.10.1-4+b1", "MIT"),
    "fd-find": ("8.6.0-3", "MIT or Apache-2.0"),
    "fdupes": ("1:2.2.1-1", "MIT"),
    "fzf": ("0.38.0-1+b1", "MIT"),
    "git-extras": ("6.5.0-1", "MIT"),
    "git-lfs": ("3.3.0-1+deb12u2", "MIT"),
    "gron": ("0.7.1-1+b6", "MIT"),
    "httpie": ("3.2.1-1", "BSD-3-Clause"),
    "hub": ("2.14.2~ds1-1+b11", "MIT"),
    "hyperfine": ("1.15.0-2", "MIT or Apache-2.0"),
    "iperf3": ("3.12-1+deb12u2", "BSD-3-Clause"),
    "jdupes": ("1.21.3-1+deb12u1", "MIT"),
    "kcat": ("1.7.1-2", "BSD-2-Clause"),
    "ledger": ("3.3.0-3", "BSD-3-Clause"),
    "libarchive-tools": ("3.6.2-1+deb12u5", "BSD-2-Clause"),
    "lnav": ("0.11.1-3", "BSD-2-Clause"),
    "lsof": ("4.95.0-1", "lsof licence (BSD-style, Purdue Research Foundation)"),
    "minisign": ("0.11-1", "ISC"),
    "mkcert": ("1.4.4-1+b6", "BSD-3-Clause"),
    "ncdu": ("1.18-0.2", "MIT"),
    "pax": ("1:20201030-1", "BSD-3-Clause (MirBSD)"),
    "pigz": ("2.6-1", "zlib"),
    "python3-csvkit": ("1.0.7-1", "MIT"),
    "qpdf": ("11.3.0-1+deb12u1", "Apache-2.0"),
    "sqlite-utils": ("3.30-1+deb12u1", "Apache-2.0"),
    "shfmt": ("3.6.0-1+b2", "BSD-3-Clause"),
    "signify-openbsd": ("31-3", "ISC"),
    "silversearcher-ag": ("2.2.0+git20200805-1+b1", "Apache-2.0"),
    "sqlite3": ("3.40.1-2+deb12u2", "public domain"),
    "streamlink": ("5.2.1-1", "BSD-2-Clause"),
    "sudo": ("1.9.13p3-1+deb12u4", "ISC"),
    "taskwarrior": ("2.6.2+dfsg-1", "MIT"),
    "tidy": ("2:5.6.0-11", "W3C (BSD-style)"),
    "timewarrior": ("1.4.3+ds.1-2", "MIT"),
    "ugrep": ("3.11.2+dfsg-1", "BSD-3-Clause"),
    "unzip": ("6.0-28+deb12u1", "Info-ZIP licence (BSD-style)"),
    "webp": ("1.2.4-0.2+deb12u1", "BSD-3-Clause"),
    "xmlstarlet": ("1.6.1-3", "MIT"),
    "yq": ("3.1.0-3", "Apache-2.0"),
    "zip": ("3.0-13+deb12u1", "Info-ZIP licence (BSD-style)"),
    "zstd": ("1.5.4+dfsg2-5+deb12u1", "BSD-3-Clause"),
}
# Debian's name for a program -> the name upstream documentation uses.
DOCUMENTED_AS = {"fdfind": "fd", "batcat": "bat"}
# A package that installs `git-lfs` or `git-delete-branch` documents them as `git lfs`, `git delete-branch`.
SUBCOMMAND_HOSTS = ("git",)

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([A-Za-z0-9_+-]*)")
_SHELL_FENCES = {"", "sh", "bash", "console", "shell", "shell-session", "zsh"}


def fenced_lines(markdown: str) -> list[str]:
    """Lines of shell (or unlabelled) fenced code blocks, backslash continuations joined."""
    out: list[str] = []
    fence = ""
    keep = False
    pending = ""
    for raw in markdown.splitlines():
        opened = _FENCE.match(raw)
        if opened and not fence:
            fence, keep, pending = opened.group(1), opened.group(2).lower() in _SHELL_FENCES, ""
            continue
        if fence and raw.strip().startswith(fence):
            fence = ""
            continue
        if not fence or not keep:
            continue
        pending = join_continued(raw.rstrip(), pending, out)
    return out


def prompted_lines(roff: str) -> list[str]:
    """Text lines of a man page that start with a `$ ` prompt outside any example block (`.IP` then
    `$ ugrep -w word file`): the prompt marks them as commands. Continued lines (a trailing `\\`, joined in
    blocks only) and prose that runs two prompts together are left out; italic corrections dropped."""
    texts = [unescape(raw).replace("\\,", "").replace("\\/", "").strip() for raw in roff.splitlines()]
    return [t for t in texts if t.startswith("$ ") and not t.endswith("\\") and " $ " not in t]


def man_commands(roff: str, programs: set[str]) -> list[str]:
    return commands_of(roff, programs) + commands_in(prompted_lines(roff), programs)


def markdown_commands(markdown: str, programs: set[str]) -> list[str]:
    return commands_in(fenced_lines(markdown), programs)


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", errors="replace")


def extract(root: Path) -> list[tuple[str, str, str]]:
    rows: set[tuple[str, str, str]] = set()
    for name in PACKAGES:
        base = root / name
        programs = programs_of(base)
        programs |= {DOCUMENTED_AS[p] for p in programs if p in DOCUMENTED_AS}
        programs |= {host for host in SUBCOMMAND_HOSTS if any(p.startswith(host + "-") for p in programs)}
        found: list[tuple[str, str]] = []
        for page in sorted(base.glob("usr/share/**/man[1-8]/*.gz")):
            if page.is_file():  # a man page may be a dangling link to another package's page
                found += [(page.name.removesuffix(".gz"), c) for c in man_commands(_read(page), programs)]
        for doc in sorted(base.glob("usr/share/doc/**/*.md*")):
            if doc.suffix in (".md", ".gz") and doc.name.removesuffix(".gz").endswith(".md"):
                found += [(doc.name.removesuffix(".gz"), c) for c in markdown_commands(_read(doc), programs)]
        rows |= {(name, page, command) for page, command in found if usable(command)}
    return one_per_command(rows)


HEADER = """# Held-out everyday command lines from the documentation of a second set of Debian 12 packages (issue 16).
# Columns: source, page, command. Built by scripts/extract_everyday_docs.py (pinned versions there): man-page
# example blocks and `$ `-prompted lines, and shell code blocks of the Markdown docs under /usr/share/doc;
# licences in shell_everyday_docs.NOTICE. Kept as in shell_everyday_man.tsv. Not edited by hand.
"""


def main(argv: list[str] | None = None) -> int:
    return build_corpus(argv, PACKAGES, extract, HEADER, Path("benchmarks/data/shell_everyday_docs.tsv"))


if __name__ == "__main__":
    raise SystemExit(main())
