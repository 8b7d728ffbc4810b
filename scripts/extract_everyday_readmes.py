"""Extract a held-out everyday corpus from the READMEs and docs of CLI packages on the npm registry (issue 16).

    python scripts/extract_everyday_readmes.py [--tarballs DIR] [--out benchmarks/data/shell_everyday_readmes.tsv]

A third source, unlike the Debian man pages and docs of the other corpora: the Markdown files (README, docs/,
guides; changelogs left out) inside the published tarballs of the pinned npm packages below, fetched with
`npm pack NAME@VERSION` unless --tarballs holds them already. Lines of shell (or unlabelled) fenced code blocks
are kept when their first word is a program the package installs (its package.json `bin`), or `npx` running
one; prompts, synopses and output lines are dropped, continuations joined and <placeholders> filled exactly as
in scripts/extract_everyday_docs.py, whose helpers it uses. Every package here is MIT, ISC, BSD or Apache-2.0
licensed (shell_everyday_readmes.NOTICE).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract_everyday_docs import markdown_commands  # a script beside this one, not a package
from extract_everyday_man import one_per_command, usable

# Package -> (version, licence from its package.json). Versions pinned for a reproducible corpus.
PACKAGES: dict[str, tuple[str, str]] = {
    "0x": ("6.0.0", "MIT"),
    "ajv-cli": ("5.0.0", "MIT"),
    "alex": ("11.0.1", "MIT"),
    "@angular/cli": ("21.2.30", "MIT"),
    "auto-changelog": ("2.7.0", "MIT"),
    "ava": ("7.0.0", "MIT"),
    "aws-cdk": ("2.1149.0", "Apache-2.0"),
    "azure-functions-core-tools": ("4.13.2", "MIT"),
    "@azure/static-web-apps-cli": ("2.0.10", "MIT"),
    "c8": ("12.0.0", "ISC"),
    "@changesets/cli": ("2.31.1", "MIT"),
    "chokidar-cli": ("3.0.0", "MIT"),
    "clean-css-cli": ("5.6.3", "MIT"),
    "clinic": ("13.0.0", "MIT"),
    "commitizen": ("4.3.2", "MIT"),
    "concurrently": ("9.2.5", "MIT"),
    "conventional-changelog-cli": ("5.0.0", "MIT"),
    "copyfiles": ("2.4.1", "MIT"),
    "cordova": ("13.0.0", "Apache-2.0"),
    "cpy-cli": ("7.0.0", "MIT"),
    "cspell": ("9.8.0", "MIT"),
    "csvtojson": ("2.0.14", "MIT"),
    "degit": ("3.10.0", "MIT"),
    "del-cli": ("7.0.0", "MIT"),
    "depcheck": ("1.4.7", "MIT"),
    "@devcontainers/cli": ("0.89.0", "MIT"),
    "dotenv-cli": ("11.0.0", "MIT"),
    "eas-cli": ("24.8.0", "MIT"),
    "eslint": ("10.16.0", "MIT"),
    "express-generator": ("4.16.1", "MIT"),
    "figlet": ("1.13.0", "MIT"),
    "firebase-tools": ("15.37.0", "MIT"),
    "fkill-cli": ("9.0.0", "MIT"),
    "forever": ("4.0.3", "MIT"),
    "fx": ("39.2.0", "MIT"),
    "gatsby-cli": ("5.16.0", "MIT"),
    "gh-pages": ("6.3.0", "MIT"),
    "@google/clasp": ("3.4.1", "Apache-2.0"),
    "hexo-cli": ("4.3.2", "MIT"),
    "htmlhint": ("1.9.2", "MIT"),
    "http-server": ("14.1.1", "MIT"),
    "hygen": ("6.2.11", "MIT"),
    "jasmine": ("7.0.0", "MIT"),
    "jscodeshift": ("17.4.0", "MIT"),
    "json-server": ("0.17.4", "MIT"),
    "json2csv": ("5.0.7", "MIT"),
    "kill-port": ("2.0.1", "MIT"),
    "less": ("4.9.1", "Apache-2.0"),
    "license-checker": ("25.0.1", "BSD-3-Clause"),
    "lighthouse": ("12.8.2", "Apache-2.0"),
    "lint-staged": ("16.4.0", "MIT"),
    "localtunnel": ("2.0.2", "MIT"),
    "madge": ("8.0.0", "MIT"),
    "markdown-link-check": ("3.15.0", "ISC"),
    "markdownlint-cli": ("0.48.0", "MIT"),
    "marked": ("18.3.0", "MIT"),
    "@marp-team/marp-cli": ("4.5.1", "MIT"),
    "md-to-pdf": ("5.2.5", "MIT"),
    "@mermaid-js/mermaid-cli": ("11.17.0", "MIT"),
    "@mockoon/cli": ("9.9.0", "MIT"),
    "newman": ("6.2.2", "Apache-2.0"),
    "ngrok": ("4.3.3", "BSD-2-Clause"),
    "nodemon": ("3.1.14", "MIT"),
    "np": ("11.2.2", "MIT"),
    "npkill": ("0.12.2", "MIT"),
    "npm-check": ("6.0.1", "MIT"),
    "npm-check-updates": ("22.2.9", "Apache-2.0"),
    "npm-run-all": ("4.1.5", "MIT"),
    "nx": ("24.0.7", "MIT"),
    "nyc": ("18.0.0", "ISC"),
    "onchange": ("7.1.0", "MIT"),
    "open-cli": ("8.0.0", "MIT"),
    "openapi-typescript": ("7.13.0", "MIT"),
    "@openapitools/openapi-generator-cli": ("2.35.0", "Apache-2.0"),
    "patch-package": ("8.0.1", "MIT"),
    "pkg": ("5.8.1", "MIT"),
    "playwright": ("1.65.2", "Apache-2.0"),
    "plop": ("4.0.5", "MIT"),
    "pnpm": ("12.26.0", "MIT"),
    "postcss-cli": ("11.0.1", "MIT"),
    "quicktype": ("26.0.0", "Apache-2.0"),
    "@redocly/cli": ("2.77.0", "MIT"),
    "release-it": ("20.2.1", "MIT"),
    "remark-cli": ("12.0.1", "MIT"),
    "reveal-md": ("6.1.4", "MIT"),
    "rollup": ("4.69.3", "MIT"),
    "semantic-release": ("24.2.9", "MIT"),
    "sequelize-cli": ("6.6.5", "MIT"),
    "sharp-cli": ("6.1.0", "MIT"),
    "shx": ("0.4.0", "MIT"),
    "sort-package-json": ("3.7.1", "MIT"),
    "source-map-explorer": ("2.5.3", "Apache-2.0"),
    "standard": ("17.1.2", "MIT"),
    "@stoplight/spectral-cli": ("6.16.3", "Apache-2.0"),
    "svgo": ("4.1.0", "MIT"),
    "syncpack": ("15.3.3", "MIT"),
    "terser": ("5.51.4", "BSD-2-Clause"),
    "tiged": ("2.12.8", "MIT"),
    "tldr": ("3.4.0", "MIT"),
    "trash-cli": ("7.2.0", "MIT"),
    "ts-node": ("10.9.2", "MIT"),
    "tsc-watch": ("7.2.1", "MIT"),
    "uglify-js": ("3.19.3", "BSD-2-Clause"),
    "vercel": ("64.0.2", "Apache-2.0"),
    "@vercel/ncc": ("0.45.0", "MIT"),
    "verdaccio": ("6.8.0", "MIT"),
    "@vue/cli": ("5.0.9", "MIT"),
    "wait-on": ("9.5.1", "MIT"),
    "webpack-cli": ("7.3.1", "MIT"),
    "wrangler": ("4.86.0", "MIT OR Apache-2.0"),
    "write-good": ("1.0.8", "MIT"),
    "xo": ("2.0.2", "MIT"),
    "yo": ("7.0.1", "BSD-2-Clause"),
}
_CHANGELOG = re.compile(r"^(change(s|log)|history|releases?)\b", re.IGNORECASE)


def tarball_name(name: str, version: str) -> str:
    """The file `npm pack` writes: a scope's `@` dropped and its `/` turned into `-`."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch(into: Path) -> None:
    for name, (version, _) in PACKAGES.items():
        if not (into / tarball_name(name, version)).exists():
            subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=into, check=True)


def programs_of(package_json: dict[str, Any], name: str) -> set[str]:
    """The names a package installs: `bin` maps names to files, or is one file named after the package."""
    binaries = package_json.get("bin") or {}
    return {name.split("/")[-1]} if isinstance(binaries, str) else set(binaries)


def documents(tar: tarfile.TarFile) -> list[tuple[str, str]]:
    """(file name, text) of the Markdown files a package publishes, release notes left out."""
    found = []
    for member in sorted(tar.getmembers(), key=lambda m: m.name):
        base = member.name.rsplit("/", 1)[-1]
        if not member.isfile() or "/node_modules/" in member.name or not base.lower().endswith(".md"):
            continue
        if _CHANGELOG.match(base):
            continue
        handle = tar.extractfile(member)
        if handle is not None:
            found.append(
                (member.name.removeprefix("package/"), handle.read().decode("utf-8", errors="replace"))
            )
    return found


def runs_program(command: str, programs: set[str]) -> bool:
    """`npx prettier --check .` is the same everyday command as `prettier --check .`; `npx` of another
    package is not this package's example."""
    words = command.split()
    return words[0] in programs or (
        words[0] == "npx" and next((w for w in words[1:] if not w.startswith("-")), "") in programs
    )


def commands_of(markdown: str, programs: set[str]) -> list[str]:
    return [c for c in markdown_commands(markdown, programs | {"npx"}) if runs_program(c, programs)]


def extract(tarballs: Path) -> list[tuple[str, str, str]]:
    rows: set[tuple[str, str, str]] = set()
    for name, (version, _) in PACKAGES.items():
        with tarfile.open(tarballs / tarball_name(name, version)) as tar:
            handle = tar.extractfile("package/package.json")
            assert handle is not None
            programs = programs_of(json.load(handle), name)
            for doc, text in documents(tar):
                rows |= {(name, doc, c) for c in commands_of(text, programs) if usable(c)}
    return one_per_command(rows)


HEADER = """# Held-out everyday command lines from the READMEs and docs of CLI packages on the npm registry (issue 16).
# Columns: source, page, command. Built by scripts/extract_everyday_readmes.py (pinned versions there): lines of
# the shell code blocks of each package's published Markdown files that run one of its programs (or `npx` it);
# licences in shell_everyday_readmes.NOTICE. Kept as in shell_everyday_docs.tsv. Not edited by hand.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=HEADER.splitlines()[0].lstrip("# "))
    parser.add_argument("--tarballs", type=Path, help="directory holding (or receiving) the npm tarballs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/shell_everyday_readmes.tsv"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarballs = args.tarballs or Path(tmp)
        tarballs.mkdir(parents=True, exist_ok=True)
        fetch(tarballs)
        rows = extract(tarballs)
    args.out.write_text(HEADER + "".join(f"{s}\t{p}\t{c}\n" for s, p, c in rows), encoding="utf-8")
    print(f"{len(rows)} commands -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
