"""scripts/extract_everyday_readmes.py: the shell code blocks of an npm package's Markdown files become command
lines when they run one of the package's programs (directly or through `npx`); release notes, other programs
and `npx` of other packages are left out; the committed held-out corpus is sorted, unique and licensed."""

from __future__ import annotations

import io
import runpy
import tarfile
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "extract_everyday_readmes.py"
CORPUS = REPO / "benchmarks" / "data" / "shell_everyday_readmes.tsv"

README = """# gizmo

```bash
npm install -g gizmo
gizmo build --out dist
npx gizmo serve -p 8080
npx -y other-tool init
$ gz check <config file>
```
"""


def _load_script() -> SimpleNamespace:
    return SimpleNamespace(**runpy.run_path(str(SCRIPT)))


def _tarball(files: dict[str, str]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def test_lines_that_run_the_package_programs_are_kept() -> None:
    script = _load_script()
    programs = script.programs_of({"bin": {"gizmo": "cli.js", "gz": "cli.js"}}, "gizmo")
    assert script.commands_of(README, programs) == [
        "gizmo build --out dist",
        "npx gizmo serve -p 8080",
        "gz check config_file",
    ]
    assert script.programs_of({"bin": "cli.js"}, "@acme/gizmo") == {"gizmo"}


def test_release_notes_and_dependencies_are_not_read() -> None:
    tar = _tarball({"package/README.md": "a", "package/CHANGELOG.md": "b", "package/node_modules/x/README.md": "c",
                    "package/docs/usage.md": "d"})  # fmt: skip
    assert [name for name, _ in _load_script().documents(tar)] == ["README.md", "docs/usage.md"]


def test_tarball_names_follow_npm_pack() -> None:
    assert _load_script().tarball_name("@angular/cli", "1.2.3") == "angular-cli-1.2.3.tgz"


def test_committed_corpus_is_sorted_unique_and_from_listed_packages() -> None:
    rows = [
        line.split("\t")
        for line in CORPUS.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert 800 <= len(rows) <= 1500 and all(len(row) == 3 for row in rows)
    assert rows == sorted(rows)
    commands = [row[2] for row in rows]
    assert len(commands) == len(set(commands))
    packages = _load_script().PACKAGES
    assert {row[0] for row in rows} <= set(packages)
    notice = " ".join(CORPUS.with_suffix(".NOTICE").read_text(encoding="utf-8").split())  # lines wrapped
    assert all(f"{name} {version}" in notice for name, (version, _) in packages.items())
