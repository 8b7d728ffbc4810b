"""Extract everyday command lines from the example blocks of Debian man pages (issue 16's everyday corpus).

    python scripts/extract_everyday_man.py [--debs DIR] [--out benchmarks/data/shell_everyday_man.tsv]

Downloads the pinned packages below with `apt-get download` (Debian 12, bookworm) unless --debs holds them already,
unpacks their man pages with `dpkg-deb`, and keeps every line of a preformatted block (`.nf`/`.fi`, `.EX`/`.EE`,
`.Vb`/`.Ve`) whose first word is a program the same package installs, after dropping a `$ `/`# ` prompt, unless
it is a usage synopsis (a bare `[flags]`/`[options]`/`[-o opt]` word: grammar, no command). Only the
roff escapes these pages use are undone; backslash continuations are joined; `<placeholders>` become their bare
name, as in shell_everyday.tsv. The output is sorted and deduplicated, so a rerun writes the same file.
Every package here is permissively licensed or public domain (see benchmarks/data/shell_everyday.NOTICE).
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# Package -> (version, licence of its documentation). Versions pinned for a reproducible corpus.
PACKAGES: dict[str, tuple[str, str]] = {
    "buildah": ("1.28.2+ds1-3+deb12u1+b3", "Apache-2.0"),
    "curl": ("7.88.1-10+deb12u15", "curl (MIT/X derivative)"),
    "docker.io": ("20.10.24+dfsg1-1+deb12u1+b6", "Apache-2.0"),
    "gh": ("2.23.0+dfsg1-1", "MIT (Expat)"),
    "jq": ("1.6-2.1+deb12u3", "MIT; manual CC-BY-3.0"),
    "openssl": ("3.0.22-1~deb12u2", "Apache-2.0"),
    "podman": ("4.3.1+ds1-8+deb12u1+b3", "Apache-2.0"),
    "rclone": ("1.60.1+dfsg-2+b5", "MIT (Expat)"),
    "restic": ("0.14.0-1+b5", "BSD-2-Clause"),
    "skopeo": ("1.9.3+ds1-1+b10", "Apache-2.0"),
    "tcpdump": ("4.99.3-1", "BSD-3-Clause"),
    "tmux": ("3.3a-3", "ISC"),
    "xz-utils": ("5.4.1-1+deb12u2", "public domain (man pages)"),
    "postgresql-client-15": ("15.20-0+deb12u1", "PostgreSQL Licence"),
    "borgbackup": ("1.2.4-1", "BSD-3-Clause"),
    "openssh-client": ("1:9.2p1-2+deb12u10", "BSD (OpenSSH)"),
    "ripgrep": ("13.0.0-4+b2", "MIT or Unlicense"),
    "yt-dlp": ("2023.03.04-1", "Unlicense (public domain)"),
    "graphicsmagick": ("1.4+really1.3.40-4+deb12u1", "MIT-style (GraphicsMagick)"),
    "kubernetes-client": ("1.20.5+really1.20.2-1.1+deb12u1", "Apache-2.0"),
    "git-filter-repo": ("2.38.0-1", "MIT (Expat)"),
    "ldap-utils": ("2.5.13+dfsg-5", "OpenLDAP Public Licence 2.8"),
    "mosquitto-clients": ("2.0.11-1.2+deb12u2", "EDL-1.0 (BSD-3-Clause)"),
    "netcat-openbsd": ("1.219-1", "BSD-2/3-Clause"),
    "hugo": ("0.111.3-1", "Apache-2.0"),
    "miller": ("6.6.0-2+b3", "BSD-2-Clause"),
    "jc": ("1.22.5-1", "MIT"),
}

_BLOCK_START = re.compile(r"^\.(nf|EX|Vb|Bd\s+-literal)\b")
_BLOCK_END = re.compile(r"^\.(fi|EE|Ve|Ed)\b")
_DISPLAY_LINE = re.compile(r"^\.Dl\s+(.*)$")  # mdoc one-line literal display
_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[-+]?\d"), ""),  # size changes
    (re.compile(r"\\\*\((L|R)\""), '"'),
    (re.compile(r"\\\*\[[^\]]*\]"), ""),
    (re.compile(r"\\\*\((Aq|aq)"), "'"),  # pod2man's quote strings
    (re.compile(r"\\\[(aq|cq)\]"), "'"),
    (re.compile(r"\\\[(dq|lq|rq)\]"), '"'),
    (re.compile(r"\\\[(ti|ap)\]"), "~"),
    (re.compile(r"\\\[(ha|a\^)\]"), "^"),
    (re.compile(r"\\\[(ga|oq)\]"), "`"),
    (re.compile(r"\\\[(em|en|mi|hy)\]"), "-"),
    (re.compile(r"\\\[rs\]"), r"\\"),
    (re.compile(r"\\\((aq|cq)"), "'"),
    (re.compile(r"\\\((dq|lq|rq)"), '"'),
    (re.compile(r"\\\((ga|oq)"), "`"),
    (re.compile(r"\\\((ti|ap)"), "~"),
    (re.compile(r"\\\((ha|a\^)"), "^"),
    (re.compile(r"\\\((em|en|mi|hy)"), "-"),
    (re.compile(r"\\\(rs"), "\\\\"),
    (re.compile(r"\\\(ba"), "|"),
    (re.compile(r"\\[&%]"), ""),
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\\."), "."),
    (re.compile(r"\\ "), " "),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\\\"), "\\\\"),
]
_PROMPT = re.compile(r"^(\$|#|%)\s+")
_PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_. -]*)>")
# A usage synopsis, not a command: a bare word of bracket grammar (`[flags]`, `[options]`, `[key value]*`,
# `[-o config]`). Quoted or attached brackets (`jq '[paths]'`, `tcp[tcpflags]`) are the program's own syntax.
_SYNOPSIS = re.compile(
    r"(?:^|\s)\[(?:-[^\]\s]*(?:\s[^\]\s-][^\]\s]*)?|[a-z][a-z_:+-]*(?:\s[a-z][a-z_:+-]*)*)\](?:[+*]|\.\.\.)?(?=\s|$)"
)


def unescape(line: str) -> str:
    for pattern, replacement in _ESCAPES:
        line = pattern.sub(replacement, line)
    return line


def preformatted_lines(roff: str) -> list[str]:
    """Lines inside no-fill/example blocks, roff requests dropped, continuations joined."""
    out: list[str] = []
    inside = False
    pending = ""
    for raw in roff.splitlines():
        if _BLOCK_START.match(raw):
            inside, pending = True, ""
            continue
        if _BLOCK_END.match(raw):
            inside = False
            if pending:
                out.append(pending)
            pending = ""
            continue
        display = _DISPLAY_LINE.match(raw)
        if display:
            out.append(unescape(display.group(1)).strip())
            continue
        if not inside or raw.startswith((".", "'")):
            continue
        pending = join_continued(unescape(raw).rstrip(), pending, out)
    return out


def join_continued(text: str, pending: str, out: list[str]) -> str:
    """Append `text` (joined to the lines before it) to `out`, or return it as pending when it ends in `\\`."""
    if text.endswith("\\") and not text.endswith("\\\\"):
        return pending + text[:-1].rstrip() + " "
    out.append((pending + text.strip()) if pending else text)
    return ""


def commands_of(roff: str, programs: set[str]) -> list[str]:
    return commands_in(preformatted_lines(roff), programs)


def commands_in(lines: list[str], programs: set[str]) -> list[str]:
    """Example lines that run one of `programs`, prompt dropped and placeholders filled; synopses left out."""
    commands: list[str] = []
    for line in lines:
        text = _PROMPT.sub("", line.strip())
        words = text.split()
        if not words or words[0] not in programs:
            continue
        text = _PLACEHOLDER.sub(lambda m: m.group(1).strip().replace(" ", "_"), text)
        if _SYNOPSIS.search(text):  # `ldapexop [<options>] whoami` too
            continue
        commands.append(" ".join(text.split()) if "'" not in text and '"' not in text else text)
    return commands


def bash_parses(command: str) -> bool:
    """A documentation line bash itself refuses (a quote opened for the next lines, prose) is no command."""
    return subprocess.run(["bash", "-n", "-c", command], capture_output=True, check=False).returncode == 0


def unpack(debs: Path, into: Path, packages: dict[str, tuple[str, str]] | None = None) -> None:
    for name, (version, _) in (packages or PACKAGES).items():
        matches = sorted(debs.glob(f"{name}_{version.split(':')[-1]}_*.deb"))
        if not matches:
            subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=debs, check=True)
            matches = sorted(debs.glob(f"{name}_*.deb"))
        (into / name).mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(matches[0]), str(into / name)], check=True)


def programs_of(root: Path) -> set[str]:
    dirs = [root / d for d in ("usr/bin", "usr/sbin", "bin", "sbin")] + list(
        root.glob("usr/lib/postgresql/*/bin")
    )
    names = {p.name for d in dirs for p in d.glob("*")}
    # Debian installs some programs under an alternative's name (nc.openbsd is run as nc).
    names |= {name.split(".")[0] for name in names if "." in name}
    return names - {"["}


def extract(root: Path) -> list[tuple[str, str, str]]:
    rows: set[tuple[str, str, str]] = set()
    for name in PACKAGES:
        base = root / name
        programs = programs_of(base)
        for page in sorted(base.glob("usr/share/**/man[1-8]/*.gz")):
            roff = gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")
            for command in commands_of(roff, programs):
                if usable(command):
                    rows.add((name, page.name.removesuffix(".gz"), command))
    return one_per_command(rows)


def usable(command: str) -> bool:
    return "\t" not in command and len(command) < 400 and bash_parses(command)


def one_per_command(rows: set[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Sorted rows, one per distinct command (the first page that shows it)."""
    seen: set[str] = set()
    unique = []
    for row in sorted(rows):
        if row[2] not in seen:
            seen.add(row[2])
            unique.append(row)
    return unique


HEADER = """# Everyday command lines from the example blocks of Debian 12 man pages (issue 16). Columns: source, page, command.
# Built by scripts/extract_everyday_man.py (pinned package versions there); licences in shell_everyday.NOTICE.
# Kept: lines of preformatted example blocks whose first word is a program of the same package, prompt dropped,
# usage synopses (a bare `[flags]`/`[options]` word) left out, continuations joined, <placeholders> filled with their bare name, duplicates removed. Not edited by hand.
"""


def build_corpus(
    argv: list[str] | None,
    packages: dict[str, tuple[str, str]],
    extract_rows: Callable[[Path], list[tuple[str, str, str]]],
    header: str,
    default_out: Path,
) -> int:
    """The command line both extractors share: download and unpack the packages, write the sorted corpus."""
    parser = argparse.ArgumentParser(description=header.splitlines()[0].lstrip("# "))
    parser.add_argument("--debs", type=Path, help="directory holding (or receiving) the .deb files")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        debs = args.debs or Path(tmp) / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        root = Path(tmp) / "root"
        unpack(debs, root, packages)
        rows = extract_rows(root)
    args.out.write_text(header + "".join(f"{s}\t{p}\t{c}\n" for s, p, c in rows), encoding="utf-8")
    print(f"{len(rows)} commands -> {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return build_corpus(argv, PACKAGES, extract, HEADER, Path("benchmarks/data/shell_everyday_man.tsv"))


if __name__ == "__main__":
    raise SystemExit(main())
