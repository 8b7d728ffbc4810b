"""A rule's view of one command: normalized flags, operands, and where its path operands point."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from railguard.detect.paths import is_inside, is_system_path, resolve_path, secret_path_kind
from railguard.detect.shell._flow import basename
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._syntax import Exec, Word
from railguard.detect.shell._walk import UNKNOWN_CWD

# Spellings that mean the same flag, per command (`rm --recursive` == `rm -R` == `rm -r`).
_ALIASES: dict[str, dict[str, str]] = {
    "rm": {"-R": "-r", "--recursive": "-r", "--force": "-f", "--dir": "-d"},
    "chmod": {"--recursive": "-R", "-r": "-R"},
    "chown": {"--recursive": "-R"},
    "chgrp": {"--recursive": "-R"},
    "cp": {"--recursive": "-r", "-R": "-r", "--force": "-f", "-a": "-r", "--archive": "-r"},
    "shred": {"--remove": "-u", "--zero": "-z"},
    "git": {"--force": "-f", "--delete": "-d", "--all": "--all"},
}
# Top-level trees whose loss breaks the machine (children of / that are not scratch).
_CRITICAL_TOPS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/opt",
        "/proc",
        "/root",
        "/sbin",
        "/srv",
        "/sys",
        "/usr",
        "/var",
        "/Users",
        "/System",
        "/Library",
        "/Applications",
        "/private",
        "/snap",
        "/usr/bin",
        "/usr/lib",
        "/usr/sbin",
        "/usr/share",
        "/var/lib",
        "/var/log",
        "/etc/ssl",
        "/mnt",
        "/media",
        "/usr/include",
        "/var/backups",
    }
)
_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp")
_USER_INSTALLED = ("/usr/local/", "/opt/", "/var/cache/", "/var/tmp/", "/srv/", "/mnt/", "/media/")
_DISK_PREFIXES = (
    "/dev/sd",
    "/dev/hd",
    "/dev/vd",
    "/dev/xvd",
    "/dev/nvme",
    "/dev/mmcblk",
    "/dev/disk",
    "/dev/mapper/",
    "/dev/md",
    "/dev/dm-",
    "/dev/rdisk",
    "/dev/loop",
    "/dev/root",
    "/dev/sr",
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
)
# Overwriting files here breaks boot, login or every program: block rather than ask.
CORE_SYSTEM = (
    "/etc/",
    "/boot/",
    "/bin/",
    "/sbin/",
    "/usr/bin/",
    "/usr/sbin/",
    "/lib/",
    "/lib64/",
    "/usr/lib/",
)
SECRET_HOME_DIRS = (".ssh", ".gnupg", ".aws", ".kube", ".config", ".docker", ".password-store", ".azure")


@dataclass(frozen=True, slots=True)
class Ctx:
    workspace: str | None
    home: str | None
    cwd: str | None = None  # after a `cd` in the same command; UNKNOWN_CWD when it cannot be known

    @property
    def home_root(self) -> str:
        return resolve_path("~", home=self.home)


@dataclass(frozen=True, slots=True)
class Target:
    """Where one path operand points. `zone`: critical | system | secret_dir | workspace_root |
    workspace | scratch_root | scratch | outside | device | dynamic."""

    raw: str
    path: str
    zone: str


def is_disk_device(path: str) -> bool:
    return path.startswith(_DISK_PREFIXES)


# Where each (word, context) points, remembered: rules ask again for the same operands. Keyed by
# plain values (a `Ctx` key would hash and compare through Python-level dataclass methods).
_TARGETS: dict[tuple[str, bool, bool, str | None, str | None, str | None], Target] = {}
_TARGETS_MAX = 8192


def classify_target(word: Word, ctx: Ctx) -> Target:
    text, dynamic, glob = word.text, word.dynamic, word.glob
    key = (text, dynamic, glob, ctx.workspace, ctx.home, ctx.cwd)
    target = _TARGETS.get(key)
    if target is None:
        target = _classify(text, dynamic, glob, ctx)
        if len(_TARGETS) >= _TARGETS_MAX:
            _TARGETS.clear()  # a fresh start past the bound: cheaper than ordering every hit
        _TARGETS[key] = target
    return target


def _classify(text: str, dynamic: bool, glob: bool, ctx: Ctx) -> Target:
    if dynamic and not _has_static_anchor(text):
        return Target(text, text, "dynamic")
    if ctx.cwd == UNKNOWN_CWD and not text.startswith(("/", "~", "$HOME", "${HOME}")):
        return Target(text, text, "dynamic")  # relative to a directory we could not follow
    path = resolve_path(text, workspace=ctx.cwd or ctx.workspace, home=ctx.home)
    last = posixpath.basename(text.rstrip("/"))
    contents = glob and any(c in last for c in "*?[")
    if contents:
        path = posixpath.dirname(path) or "."
        if last.startswith(".") and len(last) <= 64 and fnmatch.fnmatchcase("..", last):
            # `.*` matched `..` in shells without globskipdots: the parent directory is hit.
            path = posixpath.normpath(posixpath.join(path, ".."))
    return Target(text, path, _zone(path, ctx, contents=contents))


def _has_static_anchor(text: str) -> bool:
    """`$TMPDIR/build/x` still has a known tail; a bare `$DIR` or `$DIR/` does not."""
    head, _, tail = text.partition("/")
    return bool(tail.strip("/*")) and not head.startswith("$")


def _zone(path: str, ctx: Ctx, *, contents: bool) -> str:
    home = ctx.home_root
    if path in ("..",) or path.startswith("../"):
        return "outside"
    if not path.startswith(("/", "~")):
        return (
            "workspace_root" if path == "." and contents is False and ctx.workspace is None else "workspace"
        )
    if is_disk_device(path):
        return "device"
    if path in _CRITICAL_TOPS or path == home or path == "~":
        return "critical"
    if ctx.workspace:
        workspace = resolve_path(ctx.workspace, home=ctx.home)
        if path == workspace:
            return "workspace" if contents else "workspace_root"
        if is_inside(path, workspace):
            return "workspace"
        if is_inside(workspace, path):
            return "critical"  # an ancestor of the workspace (its parent, the home dir ...)
    if any(path == s for s in _SCRATCH):
        return "scratch_root"
    if any(is_inside(path, s) for s in _SCRATCH):
        return "scratch"
    if is_inside(path, home) and path[len(home) + 1 :].split("/", 1)[0] in SECRET_HOME_DIRS:
        return "secret_dir" if path.count("/") - home.count("/") <= 2 else "outside"
    if secret_path_kind(path) in ("ssh_dir", "gpg_private"):
        return "secret_dir"
    if in_system_tree(path):
        return "system"
    return "outside"


def in_system_tree(path: str) -> bool:
    """Under the operating system's own trees, where a write asks (`cp x /var/lib/y`); the places users
    install and mount into (`/opt`, `/srv`, `/mnt`, `/media`, `/usr/local`) are not."""
    return is_system_path(path) and not path.startswith(_USER_INSTALLED)


# Options that consume the next word, per command, so their values are not taken for operands.
_VALUED: dict[str, frozenset[str]] = {
    name: frozenset(opts.split())
    for name, opts in {
        "rsync": "-e --rsh -f --filter --exclude --include --exclude-from --include-from --files-from --port "
        "--password-file --chmod --chown --log-file -T --temp-dir --partial-dir --backup-dir --suffix",
        "scp": "-i -P -o -F -c -l -S -J",
        "sftp": "-i -P -o -F -c -l -S -J -b",
        "cp": "-t --target-directory -S --suffix",
        "mv": "-t --target-directory -S --suffix",
        "tar": "-f --file -C --directory -T --files-from -X --exclude-from",
        "chmod": "--reference",
        "chown": "--reference --from",
        "grep": "-e -f -m -A -B -C --regexp --file",
        "egrep": "-e -f -m -A -B -C",
        "rg": "-e -g -t -T -m -A -B -C --glob --type",
        "head": "-n -c",
        "tail": "-n -c",
        "cut": "-d -f -c -b",
        "sort": "-t -k -o -S -T",
        "awk": "-F -v -f",
        "sed": "-e -f",
        "jq": "--arg --argjson -f --slurpfile",
        "nc": "-p -s -w -i -q -e -c -x -X",
        "ncat": "-p -s -w -i -e -c --exec --sh-exec",
        "curl": "-o -H -u -X -A "
        "-e -b -c -m -w -x --output --header --user --request --connect-timeout --max-time --proxy -K --config",
        "wget": "-O -o -a -P -U -e --output-document --header --user --password",
        "openssl": "-in -out -inkey -passin",
        "shred": "-n -s --iterations --size",
        "truncate": "-s --size -r --reference",
        "dd": "",
        "install": "-m -o -g -t -S --mode --owner --group --target-directory",
        "ln": "-t --target-directory -S",
        "tee": "",
        "kubectl": "-n --namespace --context --kubeconfig --cluster --user -s --server -l --selector -o --output "
        "-f --filename --as",
        "oc": "-n --namespace --context --kubeconfig -l --selector -o -f",
        "helm": "-n --namespace --kube-context --kubeconfig -f --values --set --version",
        "aws": "--profile --region --output --endpoint-url --query",
        "gcloud": "--project --zone --region --format --account --configuration",
        "az": "--subscription -o --output --query",
        "pulumi": "-s --stack -C --cwd",
        "terraform": "-var -var-file",
        "docker": "-H --host --context -c",
        "gpg": "-o -r -u --output --recipient --local-user",
    }.items()
}


T = TypeVar("T")


class _computed_once(Generic[T]):
    """`functools.cached_property` without the lock it takes on every first read in Python 3.11 (a
    view belongs to one analysis, on one thread): computed on first read, then an instance attribute."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _computed_once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | _computed_once[T]:
        if instance is None:
            return self
        value = instance.__dict__[self._name] = self._compute(instance)
        return value


class CommandView:
    """Normalized access to one command's flags and operands."""

    def __init__(self, exec_: Exec) -> None:
        self.exec = exec_
        self.words = exec_.words
        self.name = basename(exec_.words[0].text) if exec_.words else ""
        self.args = exec_.words[1:]
        self.secret_reads: list[tuple[str, str]] | None = None  # filled by the credential rules
        self.destinations: list[str] | None = None  # filled by the network rules

    @_computed_once
    def ordered_flags(self) -> list[str]:
        return normalize_flags(self.name, [w.text for w in self.args])

    @_computed_once
    def flags(self) -> frozenset[str]:
        return frozenset(self.ordered_flags)

    @_computed_once
    def operands(self) -> list[Word]:
        valued = _VALUED.get(self.name, frozenset())
        out: list[Word] = []
        after_dashdash = skip = False
        for word in self.args:
            if skip:
                skip = False
            elif after_dashdash or not (word.text.startswith("-") and len(word.text) > 1):
                out.append(word)
            elif word.text == "--":
                after_dashdash = True
            elif word.text in valued or (
                # a short cluster ending in a valued option (`rsync -rave CMD`) consumes the next word
                not word.text.startswith("--") and len(word.text) > 2 and f"-{word.text[-1]}" in valued
            ):
                skip = True
        return out

    @_computed_once
    def arg_texts(self) -> list[str]:
        """The arguments' texts (every option lookup reads them)."""
        return [w.text for w in self.args]

    def has(self, *flags: str) -> bool:
        return not self.flags.isdisjoint(flags)

    def value(self, *names: str) -> str | None:
        """The value of an option: `-o X`, `--out=X`, `-oX`."""
        texts = self.arg_texts
        for i, text in enumerate(texts):
            for name in names:
                if text == name and i + 1 < len(texts):
                    return texts[i + 1]
                if name.startswith("--") and text.startswith(name + "="):
                    return text[len(name) + 1 :]
                if not name.startswith("--") and text.startswith(name) and len(text) > len(name):
                    return text[len(name) :]
        return None

    def values(self, *names: str) -> list[str]:
        """Every value of the options `names`: `-o X`, `-so X` (a getopt cluster), `--out=X`. One pass
        over the arguments with set lookups, so a command with thousands of words stays linear."""
        texts = self.arg_texts
        out: list[str] = []
        last = len(texts) - 1
        wanted: frozenset[str] | None = None
        shorts: frozenset[str] = frozenset()
        for i, text in enumerate(texts):
            if not text.startswith("-"):
                continue
            if wanted is None:  # built at the first option: most commands have none
                wanted = frozenset(names)
                shorts = frozenset([n[1] for n in names if len(n) == 2 and n[0] == "-" and n[1] != "-"])
            if text in wanted or (shorts and text[-1] in shorts and _cluster_ends_with(text, "-" + text[-1])):
                if i < last:
                    out.append(texts[i + 1])  # getopt clusters too: `curl -so FILE`
            elif text.startswith("--") and "=" in text:
                key, _, value = text.partition("=")
                if key in wanted:
                    out.append(value)
        return out


def _cluster_ends_with(text: str, short: str) -> bool:
    return (
        len(short) == 2 and len(text) > 2 and text[0] == "-" and text[1] != "-" and text[1:].isalpha()
        and text[-1] == short[1]
    )  # fmt: skip


def normalize_flags(name: str, args: list[str]) -> list[str]:
    """`-rf` -> `-r -f`; `--recursive` -> `-r` (per command); stops at `--`."""
    aliases = _ALIASES.get(name, {})
    out: list[str] = []
    for text in args:
        if text == "--":
            break
        if not text.startswith("-") or len(text) < 2:
            continue
        if text.startswith("--"):
            key = text.split("=", 1)[0]
            out.append(aliases.get(key, key))
        elif text[1:].isalpha():
            out.extend(aliases.get(f"-{c}", f"-{c}") for c in text[1:])
        else:
            out.append(aliases.get(text, text))
    return list(dict.fromkeys(out))


def finding(category: str, rule: str, verdict: str, severity: str, detail: str) -> ShellFinding:
    return ShellFinding(category, rule, verdict, severity, detail)
