"""vcs_history: rewriting or deleting shared git history.

Judgement: anything that rewrites or deletes a protected branch (main, master, release*, production)
on a remote is `block`; other force pushes, history rewrites and hard resets are `ask`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_effects import git_config_findings
from railguard.detect.shell._syntax import Word
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

_CAT = "vcs_history"
_GIT_VALUED = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--super-prefix"}
)
_PUSH_VALUED = frozenset({"-o", "--push-option", "--repo", "--receive-pack", "--exec"})


def is_protected_branch(ref: str) -> bool:
    name = ref.rsplit(":", 1)[-1].lstrip("+")
    name = name.removeprefix("refs/heads/")
    return name in ("main", "master", "production", "prod", "trunk", "develop", "stable") or name.startswith(
        ("release", "production/", "prod/")
    )


def _subcommand(words: list[Word]) -> tuple[int, str]:
    i = 1
    while i < len(words):
        text = words[i].text
        if text in _GIT_VALUED:
            i += 2
        elif text.startswith("-"):
            i += 1
        else:
            return i, text
    return i, ""


_VERSION_TAG = re.compile(r"^v?\d+(?:\.\d+)+(?:[-+.][0-9A-Za-z.-]+)?$")


subcommand = _subcommand


def is_tag_ref(ref: str) -> bool:
    name = ref.rsplit(":", 1)[-1].lstrip("+")
    return name.startswith("refs/tags/") or bool(_VERSION_TAG.match(name))


def _config_pairs(view: CommandView, sub: str, texts: list[str]) -> list[tuple[str, str]]:
    """`git -c k=v ...` options, and `git config [--global] k v`."""
    words = [w.text for w in view.words]
    pairs = [
        tuple(words[i + 1].split("=", 1))
        for i, w in enumerate(words[:-1])
        if w == "-c" and "=" in words[i + 1]
    ]
    if sub == "config":
        values = [t for t in texts if not t.startswith("-")]
        if len(values) >= 2 and not {"--get", "--get-all", "--get-regexp", "--list", "-l", "--unset"} & set(
            texts
        ):
            pairs.append((values[0], values[1]))
    return [(p[0], p[1]) for p in pairs if len(p) == 2]


config_pairs = _config_pairs


def _lfs_migrate_rewrites(texts: list[str]) -> bool:
    """`git lfs migrate import|export` rewrite history; `migrate info` only reports sizes, and `import
    --no-rewrite` records the conversion as a new commit on the current branch."""
    operands = [t for t in texts if not t.startswith("-")]
    if operands[:1] != ["migrate"]:
        return False
    mode = operands[1] if len(operands) > 1 else ""
    return mode != "info" and not (mode == "import" and "--no-rewrite" in texts)


def check_git(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    index, sub = _subcommand(view.words)
    rest = view.words[index + 1 :]
    texts = [w.text for w in rest]
    flags = set(texts)
    yield from git_config_findings(_config_pairs(view, sub, texts))
    if sub in ("commit", "push", "merge", "rebase", "am") and "--no-verify" in flags:
        yield finding(
            "security",
            "hooks-skipped",
            "ask",
            "medium",
            f"git {sub} --no-verify skips the repository's hooks",
        )
    if sub == "push":
        yield from _push(texts, flags)
    elif sub == "reset" and "--hard" in flags:
        yield finding(_CAT, "reset-hard", "ask", "medium", "git reset --hard discards uncommitted work")
    elif sub in ("filter-branch", "filter-repo") or (sub == "lfs" and _lfs_migrate_rewrites(texts)):
        yield finding(_CAT, "history-rewrite", "ask", "high", f"git {sub} rewrites history")
    elif sub == "clean" and any(
        t.startswith("-") and "f" in t.lstrip("-") for t in texts if not t.startswith("--")
    ):
        yield from _clean(view, ctx, texts)
    elif (
        sub == "branch"
        and (flags & {"-D", "--delete", "-d"})
        and ("-D" in flags or "--force" in flags or "-f" in flags)
        and any(not t.startswith("-") and is_protected_branch(t) for t in texts)
    ):
        protected = [t for t in texts if not t.startswith("-") and is_protected_branch(t)]
        yield finding(_CAT, "delete-protected-branch", "ask", "high", f"git branch -D {protected[0]}")
    elif sub == "update-ref" and "-d" in flags:
        refs = [t for t in texts if t.startswith("refs/")]
        if any(is_protected_branch(r) for r in refs):
            yield finding(_CAT, "delete-protected-ref", "block", "high", f"git update-ref -d {refs[0]}")
    elif sub == "reflog" and "expire" in flags and any("now" in t or "all" in t for t in texts):
        yield finding(_CAT, "reflog-expire", "ask", "high", "git reflog expire drops the recovery log")
    elif sub == "gc" and any(t.startswith("--prune=now") for t in texts):
        yield finding(_CAT, "gc-prune-now", "ask", "medium", "git gc --prune=now drops unreachable commits")
    elif sub == "stash" and flags & {"clear", "drop"}:
        yield finding(_CAT, "stash-drop", "ask", "low", "git stash clear/drop discards stashed work")
    elif sub in ("checkout", "restore"):
        yield from _discard_worktree(sub, texts, flags)
    elif sub == "branch" and ("-D" in flags or ({"-d", "--delete"} & flags and {"-f", "--force"} & flags)):
        yield finding(_CAT, "branch-force-delete", "ask", "low", "git branch -D drops unmerged commits")


# Pathspecs that name the whole tree rather than chosen files.
_WHOLE_TREE = frozenset({".", "./", ":/", ":/.", ":(top)", "*", ":/*", "-A"})
_RESTORE_VALUED = frozenset({"-s", "--source", "--pathspec-from-file"})


def _short_flags(texts: list[str]) -> set[str]:
    return {c for t in texts if t.startswith("-") and not t.startswith("--") for c in t[1:]}


def _discard_worktree(sub: str, texts: list[str], flags: set[str]) -> Iterator[ShellFinding]:
    """`git checkout -f` / `checkout -- .` / `restore [--worktree] .`: uncommitted edits of the whole tree lost.

    Restoring one named file is routine and `restore --staged` only touches the index.
    """
    paths = texts[texts.index("--") + 1 :] if "--" in texts else positionals(texts, _RESTORE_VALUED)
    whole = any(p in _WHOLE_TREE for p in paths)
    if sub == "checkout":
        forced = bool(flags & {"-f", "--force"}) or ("f" in _short_flags(texts) and "-b" not in flags)
        if forced or (whole and ("--" in texts or paths == ["."])):
            what = "git checkout -f" if forced else "git checkout -- ."
            yield finding(_CAT, "discard-worktree", "ask", "medium", f"{what} discards uncommitted work")
        return
    short = _short_flags(texts)
    staged_only = bool(flags & {"--staged"} or "S" in short) and not (flags & {"--worktree"} or "W" in short)
    if whole and not staged_only:
        yield finding(
            _CAT, "discard-worktree", "ask", "medium", "git restore of the whole tree discards work"
        )


def positionals(texts: list[str], valued: frozenset[str]) -> list[str]:
    """The arguments that are not options nor the values of `valued` options."""
    out: list[str] = []
    skip = False
    for text in texts:
        if skip:
            skip = False
        elif text in valued:
            skip = True
        elif not text.startswith("-"):
            out.append(text)
    return out


def _push(texts: list[str], flags: set[str]) -> Iterator[ShellFinding]:
    force = any(
        t in ("-f", "--force")
        or t.startswith(("--force-with-lease", "--force-if-includes"))
        or (t.startswith("-") and not t.startswith("--") and "f" in t[1:])
        for t in texts
    )
    positional = positionals(texts, _PUSH_VALUED)
    refspecs = positional[1:]
    plus_refs = [r for r in refspecs if r.startswith("+")]
    deletes = [r for r in refspecs if r.startswith(":")]
    deleting = bool(flags & {"--delete", "-d"})
    if deleting:
        deletes += refspecs
    if "--mirror" in flags:
        yield finding(_CAT, "push-mirror", "block", "high", "git push --mirror overwrites every remote ref")
    protected_deletes = [r for r in deletes if is_protected_branch(r.lstrip(":"))]
    tag_deletes = [r for r in deletes if is_tag_ref(r.lstrip(":"))]
    if tag_deletes:
        yield finding(
            _CAT,
            "delete-remote-tag",
            "block",
            "critical",
            f"git push deletes the published tag {tag_deletes[0]}",
        )
    elif protected_deletes:
        yield finding(
            _CAT, "delete-protected-branch", "block", "critical", f"git push deletes {protected_deletes[0]}"
        )
    elif deletes:
        yield finding(_CAT, "push-delete-branch", "ask", "medium", "git push deletes a remote branch")
    if force or plus_refs:
        targets = refspecs or ["<current branch>"]
        protected = [r for r in targets if is_protected_branch(r)]
        tags = [r for r in targets if is_tag_ref(r)]
        if tags or "--tags" in flags:
            yield finding(_CAT, "overwrite-remote-tag", "block", "critical",
                          f"git push --force moves the published tag {tags[0] if tags else '(all tags)'}")  # fmt: skip
        elif protected or "--all" in flags:
            yield finding(
                _CAT,
                "force-push-protected",
                "block",
                "critical",
                f"git push --force to {protected[0] if protected else 'all branches'}",
            )
        else:
            lease = any(t.startswith("--force-with-lease") for t in texts)
            yield finding(
                _CAT,
                "force-push",
                "ask",
                "medium" if lease else "high",
                f"git push {'--force-with-lease' if lease else '--force'} rewrites remote history",
            )


def _clean(view: CommandView, ctx: Ctx, texts: list[str]) -> Iterator[ShellFinding]:
    directory = next((view.words[i + 1] for i, w in enumerate(view.words[:-1]) if w.text == "-C"), None)
    zone = classify_target(directory, ctx).zone if directory is not None else "workspace"
    if zone in ("critical", "system", "outside", "secret_dir"):
        yield finding(
            "destructive_fs",
            "git-clean-outside-workspace",
            "block",
            "high",
            "git clean -f outside the workspace",
        )
    elif any("x" in t.lstrip("-") for t in texts if t.startswith("-") and not t.startswith("--")):
        yield finding(
            _CAT, "git-clean-ignored", "ask", "medium", "git clean -x deletes ignored files (.env, data)"
        )
