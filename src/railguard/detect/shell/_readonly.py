"""Invocations that only print: `--help`, `--version`, dry runs (`--dry-run`, `--no-act`, `-n` where the
tool documents it). Nothing they name is touched, so the tool's own rules are skipped for them."""

from __future__ import annotations

from railguard.detect.shell._help_forms import asks_for_help
from railguard.detect.shell._view import CommandView

_EVERY_TOOL = frozenset({"--help", "--dry-run", "--dryrun", "--no-act", "--simulate",
                         "--just-print", "--recon", "--what-if", "--whatif", "--noop", "--list", "--print",
                         "--preview-only", "--plan-only", "--pretend"})  # fmt: skip
# npm and friends take any unknown `--flag` as a config key and go on: only their documented flags count.
_UNKNOWN_FLAGS_ARE_CONFIG = frozenset({"npm", "pnpm", "yarn", "bun", "npx"})
_NPM_DOCUMENTED = frozenset({"--help", "--dry-run"})
_NOT_DRY = frozenset({"none", "false", "0", "no", "off"})
# Short flags documented as "only show what would be done", per tool (and per git subcommand).
_SHORT_DRY_RUN: dict[str, frozenset[str]] = {
    "rsync": frozenset({"-n"}),
    "rclone": frozenset({"-n"}),  # `-n, --dry-run` is a global flag of every rclone command
    "make": frozenset({"-n"}),
    "gmake": frozenset({"-n"}),
    "apt-get": frozenset({"-s"}),
    "apt": frozenset({"-s"}),
    "ansible-playbook": frozenset({"-C"}),
    "mke2fs": frozenset({"-n", "-V"}),
    "mkswap": frozenset({"-V"}),
    "wipefs": frozenset({"-n"}),
    "sgdisk": frozenset({"-P"}),  # `-P, --pretend`: changes only the in-memory copy, never the disk
    # `-n, --dry-run, --show`; `-D, --show-depends` and `-c, --showconfig` only print
    "modprobe": frozenset({"-n", "--dry-run", "--show", "-D", "--show-depends", "-c", "--showconfig"}),
    "dpkg": frozenset({"--no-act"}),
    # LVM: `-t`/`--test` runs the command without updating metadata
    **{tool: frozenset({"-t", "--test"}) for tool in (
        "lvremove", "vgremove", "pvremove", "lvreduce", "vgreduce", "lvresize", "lvextend", "lvcreate", "vgcreate",
        "pvcreate", "lvchange", "vgchange", "pvchange", "lvconvert", "lvrename", "vgrename", "vgsplit", "vgmerge",
        "pvmove", "pvresize", "vgextend", "lvm")},
}  # fmt: skip
# Short dry-run flags documented for one subcommand only: (tool, subcommand) -> flags.
_SUBCOMMAND_DRY_RUN: dict[tuple[str, str], frozenset[str]] = {
    ("zfs", "destroy"): frozenset({"-n"}), ("zpool", "create"): frozenset({"-n"}),
    ("zpool", "add"): frozenset({"-n"}), ("zpool", "remove"): frozenset({"-n"}),
    ("zpool", "split"): frozenset({"-n"}),
}  # fmt: skip
# Long flags some subcommands of a tool document as "work on the given objects here, never contact the
# server": `kubectl set|label|annotate --local -f x.yaml -o yaml` edits a manifest and prints it.
_KUBECTL_LOCAL = {sub: frozenset({"--local"}) for sub in ("set", "label", "annotate")}
_LOCAL_ONLY: dict[str, dict[str, frozenset[str]]] = {
    tool: _KUBECTL_LOCAL for tool in ("kubectl", "oc", "kubectl.exe", "microk8s.kubectl", "k3s-kubectl")
}
_SINGLE_DASH_HELP = frozenset(
    {"terraform", "tofu", "terragrunt", "go", "java", "packer", "vault", "consul", "nomad"}
)
_GIT_DRY_RUN = frozenset({"push", "clean", "rm", "add", "mv", "prune", "remote"})


def _long_dry(text: str, flags: frozenset[str] = _EVERY_TOOL) -> bool:
    key, eq, value = text.partition("=")
    if key not in flags:
        return False
    return not eq or value.lower() not in _NOT_DRY  # `--dry-run=client` yes, `--dry-run=none` no


def is_read_only(view: CommandView) -> bool:
    """True when this invocation cannot change anything (help, version, a documented dry run)."""
    texts = view.arg_texts
    documented = _NPM_DOCUMENTED if view.name in _UNKNOWN_FLAGS_ARE_CONFIG else _EVERY_TOOL
    if any(_long_dry(t) and t.partition("=")[0] in documented for t in texts if t.startswith("--")):
        return True
    if view.name in _SINGLE_DASH_HELP and "-help" in texts:
        return True
    if texts[-1:] == ["--version"] and len(view.operands) <= 1:
        return True  # `tool --version`, `tool sub --version`; `helm install --version 1.2 chart` has a value
    if asks_for_help(view):
        return True
    local = _LOCAL_ONLY.get(view.name, {}).get(view.operands[0].text if view.operands else "")
    if local and any(_long_dry(t, local) for t in texts):
        return True
    short = _SHORT_DRY_RUN.get(view.name)
    if short is None and view.name.startswith(("mkfs", "mke2fs")):
        short = _SHORT_DRY_RUN["mke2fs"]
    if short and view.flags & short:
        return True
    if view.operands and (view.name, view.operands[0].text) in _SUBCOMMAND_DRY_RUN:
        return bool(view.flags & _SUBCOMMAND_DRY_RUN[(view.name, view.operands[0].text)])
    if view.name == "git":
        sub = next((t for t in texts if not t.startswith("-")), "")
        return sub in _GIT_DRY_RUN and "-n" in view.flags
    return False
