"""destructive_fs: deletes, wipes, permission storms and overwrites outside the workspace.

Judgement: losing the machine, the home directory or system trees is `block`; a recursive delete
elsewhere outside the workspace, or of a path only known at run time, is `ask`; the workspace and
scratch dirs (/tmp) are the agent's own and are allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

from railguard.detect.paths import secret_path_kind
from railguard.detect.shell._flow import basename, piped_find_roots, upstream_closure
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_writers import trail_erasure_findings
from railguard.detect.shell._syntax import Exec, Redirect, Word
from railguard.detect.shell._view import (
    CORE_SYSTEM,
    CommandView,
    Ctx,
    Target,
    classify_target,
    finding,
    is_disk_device,
)

_CAT = "destructive_fs"
_RECURSIVE_DELETE_VERDICT = {
    "critical": ("block", "critical"), "system": ("block", "high"), "secret_dir": ("block", "high"),
    "device": ("block", "critical"), "outside": ("ask", "high"), "dynamic": ("ask", "medium"),
    "workspace_root": ("ask", "medium"), "scratch_root": ("ask", "medium"),
}  # fmt: skip
# Login and privilege files: even appending to them changes who can get in.
_AUTH_FILES = (
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/pam.d",
    "/etc/ld.so.preload",
    "/etc/ssh/sshd_config",
)
_PROTECTED_FILES = (
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/fstab",
    "/etc/hosts",
    "/etc/crontab",
    "/etc/ssh/sshd_config",
    "/etc/pam.d",
    "/etc/sudoers.d",
    "/etc/profile",
    "/etc/environment",
    "/etc/ld.so.preload",
    "/boot/",
)


def _targets(view: CommandView, ctx: Ctx, words: list[Word] | None = None) -> list[Target]:
    targets = [classify_target(w, ctx) for w in (view.operands if words is None else words)]
    if view.exec.dynamic_operands and view.exec.stdin_text is not None:
        # `echo / | xargs rm -rf`: the appended arguments are the literal's words
        literal = [
            Word(w, glob=any(c in w for c in "*?["))
            for w in view.exec.stdin_text.replace("\0", " ").split()[:32]
        ]
        targets = [t for t in targets if "$XARGS" not in t.raw]
        return targets + [classify_target(w, ctx) for w in literal]
    # `xargs -I{} rm -rf {}`: an operand that is the whole replace string is one piped name, as appended
    placeholders = [t for t in targets if t.raw == "$XARGS"]
    if view.exec.dynamic_operands and len(placeholders) == sum("$XARGS" in t.raw for t in targets):
        roots = piped_find_roots(view.exec)
        if roots:  # `find ROOT ... | xargs rm`: the entries come from under ROOT
            return [t for t in targets if t.raw != "$XARGS"] + [
                classify_target(Word(r.text.rstrip("/") + "/*", r.dynamic, glob=True), ctx) for r in roots
            ]
    if view.exec.dynamic_operands and not targets:
        targets.append(Target("<stdin>", "<stdin>", "dynamic"))
    elif view.exec.dynamic_operands:
        targets = [t if "$XARGS" not in t.raw else Target(t.raw, t.raw, "dynamic") for t in targets]
    return targets


def _describe(view: CommandView, target: Target) -> str:
    flags = " ".join(f for f in view.ordered_flags if len(f) == 2)
    return f"{view.name} {flags} on {target.path}".replace("  ", " ")


def _selective(view: CommandView) -> bool:
    """Targets a `find` picked (a find piped into xargs counts): only matching entries are hit."""
    if view.exec.selective:
        return True
    return view.exec.dynamic_operands and any(
        p.words and basename(p.words[0].text) == "find" for p in upstream_closure(view.exec)
    )


def _soften(verdict: tuple[str, str], selective: bool) -> tuple[str, str]:
    """A filtered `find` hits matching entries only: worth a human look, not a hard stop."""
    return ("ask", "high") if selective and verdict[0] == "block" else verdict


# Parents whose direct children are data, not software: `/srv/www`, `/opt/app`, `/home/alice`, `/mnt/backups`.
_DATA_PARENTS = ("/opt", "/srv", "/mnt", "/media", "/home", "/Users", "/data", "/var/www", "/var/opt",
                 "/backup", "/backups", "/var/backups", "/var/lib", "/volume1", "/storage", "/export")  # fmt: skip


def is_data_root(path: str, ctx: Ctx) -> bool:
    """A top-level data directory: a child of `/` or of a data parent (`/srv/www`, `/opt/app`, `/home/alice`).
    Children of the agent's own home dir (`~/other-project`) are ordinary outside deletes that ask."""
    path = path.rstrip("/")
    home = ctx.home_root.rstrip("/")
    if not path.startswith("/") or path.startswith(home + "/"):
        return False
    parent = path.rsplit("/", 1)[0] or "/"
    return parent == "/" or parent in _DATA_PARENTS or parent.startswith(("/volume", "/data"))


def check_rm(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    recursive = view.has("-r")
    selective = _selective(view)
    for target in _targets(view, ctx):
        if recursive:
            verdict = _RECURSIVE_DELETE_VERDICT.get(target.zone)
            if target.zone == "outside" and is_data_root(target.path, ctx) and not selective:
                yield finding(_CAT, "rm-recursive-data-dir", "block", "high", _describe(view, target))
            elif verdict:
                verdict = _soften(verdict, selective)
                rule = (
                    "rm-recursive-root"
                    if target.path in ("/", "~")
                    else f"rm-recursive-{target.zone.replace('_', '-')}"
                )
                yield finding(_CAT, rule, *verdict, _describe(view, target))
        elif selective and target.zone in ("critical", "secret_dir"):
            yield finding(
                _CAT, "find-delete-sweep", "ask", "high", f"deletes files found under {target.path}"
            )
        elif target.zone in ("critical", "system", "device"):
            exact = not selective and not any(c in target.raw for c in "*?[")
            exact = exact and (
                target.zone != "system" or target.path.startswith((*CORE_SYSTEM, *_PROTECTED_FILES))
            )
            yield finding(
                _CAT, "rm-system-file", "block" if exact else "ask", "high", _describe(view, target)
            )
        elif target.zone == "secret_dir" or secret_path_kind(target.path) in (
            "ssh_key",
            "private_key",
            "gpg_private",
        ):
            yield finding(_CAT, "rm-secret-file", "ask", "medium", _describe(view, target))


_FD_EXEC = frozenset({"-x", "--exec", "-X", "--exec-batch"})
_DELETERS = frozenset({"rm", "shred", "unlink", "rmdir", "srm", "trash", "trash-put"})


def check_fd_exec(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`fd PATTERN ROOT -x rm`: the walker does not unwrap fd, so its deleting actions are judged like
    `find -exec rm` on the roots it searches."""
    texts = [w.text for w in view.args]
    at = next((i for i, t in enumerate(texts) if t in _FD_EXEC), None)
    if at is None or at + 1 >= len(texts) or basename(texts[at + 1]) not in _DELETERS:
        return
    before = [w for w in view.args[:at] if not w.text.startswith("-")]
    for root in before[1:] or [Word(".")]:
        target = classify_target(root, ctx)
        if target.zone not in ("workspace", "scratch", "workspace_root", "scratch_root"):
            yield finding(
                _CAT,
                "find-delete-sweep",
                "ask",
                "high",
                f"{view.name} deletes what it finds under {target.path}",
            )
            return


def check_permissions(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    operands = view.operands[1:] if view.name in ("chmod", "chown", "chgrp") else view.operands
    mode = view.operands[0].text if view.operands else ""
    recursive = view.has("-R")
    selective = _selective(view)
    targets = _targets(view, ctx, operands)
    on_system = [t for t in targets if t.zone in ("critical", "system")]
    setuid_binary = _is_setuid(mode) and any(t.path.startswith(_BINARY_DIRS) for t in on_system)
    if view.name == "chmod" and on_system and (setuid_binary or _world_writable(mode)):
        yield finding("system", "chmod-system-weakened", "block", "critical",
                      f"chmod {mode} on {on_system[0].path} lets anyone write or escalate")  # fmt: skip
    elif view.name == "chmod" and _is_setuid(mode):
        yield finding("system", "chmod-setuid", "ask", "high", f"chmod {mode} sets setuid/setgid")
    for target in targets:
        if recursive and target.zone in ("critical", "device"):
            verdict = _soften(("block", "critical"), selective)
            yield finding(
                _CAT, f"{view.name}-recursive-system", *verdict, f"{view.name} -R {mode} on {target.path}"
            )
        elif recursive and target.zone in ("outside", "dynamic", "system", "secret_dir"):
            yield finding(
                _CAT, f"{view.name}-recursive-outside", "ask", "medium", f"{view.name} -R on {target.path}"
            )
        elif target.zone in ("critical", "system"):
            yield finding(
                _CAT, f"{view.name}-system-path", "ask", "high", f"{view.name} {mode} on {target.path}"
            )


_BINARY_DIRS = (
    "/bin/",
    "/sbin/",
    "/usr/bin/",
    "/usr/sbin/",
    "/usr/local/bin/",
    "/usr/local/sbin/",
    "/usr/libexec/",
)


def _world_writable(mode: str) -> bool:
    if mode.isdigit() and 3 <= len(mode) <= 4:
        return mode[-1] in "2367"
    return any(part[:1] in ("o", "a", "+", "=") and "w" in part.split("+", 1)[-1].split("=", 1)[-1] and "-" not in part
               for part in mode.split(","))  # fmt: skip


def _is_setuid(mode: str) -> bool:
    if mode.isdigit() and len(mode) == 4:
        return mode[0] in "2467"
    return "+s" in mode or "u+s" in mode or "g+s" in mode


def check_disk_tools(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    if name.startswith(("mkfs", "mke2fs", "mkswap", "mkdosfs", "mkntfs", "wipefs", "blkdiscard")):
        yield from _format(view, ctx)
        return
    if name == "sgdisk" and view.has("--zap-all", "-Z", "--clear", "-o"):
        images = image_files(view.operands[-1:], ctx)  # the disk is its last operand
        if images is None:
            yield finding(
                _CAT, "wipe-partition-table", "block", "critical", "sgdisk wipes the partition table"
            )
        for target in images or ():
            yield from write_target_findings(target, append=False, rule="format")
    elif name in ("fdisk", "sfdisk", "parted", "gdisk", "cfdisk", "sgdisk"):
        if any(is_disk_device(w.text) for w in view.operands) and not _lists_partitions(view):
            yield finding(_CAT, "partition-disk", "ask", "high", f"{name} edits a disk's partitions")
    elif name == "dd":
        yield from _check_dd(view, ctx)
    elif name == "shred":
        for target in _targets(view, ctx):
            if target.zone in ("workspace", "scratch"):
                continue  # shredding the agent's own scratch file is a delete
            severe = target.zone in ("device", "critical", "system")
            yield finding(
                _CAT,
                "shred",
                "block" if severe else "ask",
                "critical" if severe else "medium",
                f"shred on {target.path}",
            )


# Modes in which a partition tool only prints the table (read-only by its documentation).
_PARTITION_LISTING = {
    "fdisk": frozenset({"-l", "--list", "-x", "--list-details"}),
    "sfdisk": frozenset({"-l", "--list", "-d", "--dump", "-J", "--json", "-s", "--show-size", "-V", "--verify",
                         "-F", "--list-free", "-g", "--show-geometry", "--part-type", "--part-label",
                         "--part-uuid", "--part-attrs", "--disk-id"}),
    "gdisk": frozenset({"-l"}),
    "sgdisk": frozenset({"-p", "--print", "-i", "--info", "-v", "--verify", "-O", "--print-mbr", "-L",
                         "--list-types", "-b", "--backup"}),
    "parted": frozenset({"-l", "--list"}),
}  # fmt: skip
# parted commands (given after the device in script mode) that change nothing.
_PARTED_READS = frozenset({"print", "p", "unit", "help", "align-check", "version"})


def _lists_partitions(view: CommandView) -> bool:
    texts = [w.text.split("=", 1)[0] for w in view.args]
    listing = _PARTITION_LISTING.get(view.name, frozenset())
    if view.name == "sfdisk" and any(t in ("--part-type", "--part-label", "--part-uuid", "--part-attrs",
                                           "--disk-id") for t in texts):  # fmt: skip
        return len(view.operands) <= 2  # device and partition number print it; a value after them sets it
    options = [t for t in texts if t.startswith("-")]
    if view.name == "sgdisk":  # its options are actions run in turn: every one must only print
        return bool(options) and all(t in listing for t in options)
    if any(t in listing for t in texts):
        return True
    if view.name == "parted":
        words = [w.text for w in view.operands if not is_disk_device(w.text)]
        verbs = [
            t
            for t in words
            if not t.isdigit()
            and t not in ("s", "B", "kB", "MB", "GB", "TB", "%", "cyl", "chs", "compact", "MiB", "GiB", "TiB")
        ]
        return bool(words) and all(t in _PARTED_READS or t in ("optimal", "minimal") for t in verbs)
    return False


def _format(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Formatting a block device destroys it; formatting an image file is a local file write."""
    if view.name == "wipefs" and not view.has("-a", "--all", "-o", "--offset"):
        return  # without them wipefs only lists the signatures it finds
    operands = [w for w in view.operands if not w.text.isdigit()]
    if not operands:
        return
    files = image_files(operands, ctx)
    if files is None:
        yield finding(_CAT, "format-disk", "block", "critical", f"{view.name} formats or wipes a device")
    else:
        # an image or swap file is a regular file: formatting it is overwriting that file, judged as such
        for target in files:
            yield from write_target_findings(target, append=False, rule="format")


def image_files(operands: list[Word], ctx: Ctx) -> list[Target] | None:
    """The operands' targets when each is a regular file (a disk image, `disk.img`); None when any may be a
    device (under /dev, or known only at run time)."""
    files = [classify_target(w, ctx) for w in operands]
    if any(
        w.dynamic or w.text.startswith("/dev/") or t.zone == "device"
        for w, t in zip(operands, files, strict=True)
    ):
        return None
    return files


# Character devices whose writes destroy nothing: sound, terminals, the bit bucket.
_HARMLESS_DEVICES = ("/dev/null", "/dev/dsp", "/dev/audio", "/dev/snd/", "/dev/tty", "/dev/pts/", "/dev/stdout",
                     "/dev/stderr", "/dev/fd/", "/dev/console")  # fmt: skip


def _check_dd(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    for word in view.args:
        key, _, value = word.text.partition("=")
        if key == "of" and value:
            target = classify_target(Word(value, word.dynamic), ctx)
            if target.zone == "device":
                yield finding(_CAT, "dd-to-device", "block", "critical", f"dd writes to {target.path}")
            elif target.path.startswith("/dev/") and not target.path.startswith(_HARMLESS_DEVICES):
                yield finding(_CAT, "dd-to-device", "ask", "high", f"dd writes to the device {target.path}")
            elif target.path.startswith("/dev/"):
                continue
            else:
                yield from write_target_findings(target, append=False, rule="dd")
        elif key == "if" and is_disk_device(value):
            yield finding(
                "credential_access", "dd-read-disk", "ask", "medium", f"dd reads raw device {value}"
            )


def check_overwrite(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """truncate, mv, cp, ln, rsync --delete, tee, sed -i: overwriting or moving away what matters."""
    name = view.name
    ops = view.operands
    if name == "truncate":
        yield from _writes(view, ctx, ops, append=False, rule="truncate")
    elif name == "mv" and ops:
        for source in ops[:-1]:
            target = classify_target(source, ctx)
            if target.zone in ("critical", "system", "secret_dir", "device"):
                exact = target.zone != "system" and not source.glob and not _selective(view)
                verdict = ("block", "critical") if exact else ("ask", "high")
                yield finding(_CAT, "mv-system-dir", *verdict, f"mv moves away {target.path}")
        destination = ops[-1].text
        if destination == "/dev/null" and len(ops) > 1:
            zones = {classify_target(s, ctx).zone for s in ops[:-1]}
            bad = zones - {"workspace", "scratch"}
            yield finding(
                _CAT,
                "mv-to-dev-null",
                "block" if bad else "ask",
                "high",
                "mv into /dev/null destroys the source",
            )
        elif len(ops) > 1:
            yield from _writes(view, ctx, ops[-1:], append=False, rule="mv-overwrite")
    elif name in ("cp", "install", "ln") and len(ops) > 1:
        yield from _writes(view, ctx, ops[-1:], append=False, rule=f"{name}-overwrite")
    elif name == "rsync" and any(f.startswith("--delete") for f in view.flags) and ops:
        if ":" not in ops[-1].text:
            yield from tree_delete_findings(ops[-1], ctx, "rsync-delete", "rsync --delete into")
    elif name == "rsync" and len(ops) > 1 and ":" not in ops[-1].text:
        yield from _writes(view, ctx, ops[-1:], append=False, rule="rsync-overwrite")  # like cp into the tree
    elif name == "tee":
        yield from _writes(view, ctx, ops, append=view.has("-a", "--append"), rule="tee-overwrite")
    elif name in ("sed", "perl") and any(f.startswith("-i") for f in view.flags):
        yield from _writes(view, ctx, ops[1:], append=True, rule="edit-in-place")


def tree_delete_findings(word: Word, ctx: Ctx, rule: str, what: str) -> Iterator[ShellFinding]:
    """A tree whose entries may all be deleted (`rsync --delete` into it, `rclone purge` of a local folder):
    judged as `rm -r` of it; the workspace and scratch are the agent's own."""
    target = classify_target(word, ctx)
    verdict = _RECURSIVE_DELETE_VERDICT.get(target.zone)
    if target.zone == "outside" and is_data_root(target.path, ctx):
        verdict = ("block", "high")
    if verdict:
        yield finding(_CAT, rule, *verdict, f"{what} {target.path}")


def _writes(
    view: CommandView, ctx: Ctx, words: list[Word], *, append: bool, rule: str
) -> Iterator[ShellFinding]:
    for word in words:
        yield from write_target_findings(classify_target(word, ctx), append=append, rule=rule)


_OWN_FDS = ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")


def write_target_findings(target: Target, *, append: bool, rule: str) -> Iterator[ShellFinding]:
    path = target.path
    # the command's own streams; /proc/self/fd/N is /dev/fd/N (another process's /proc/PID/fd/N is not)
    if path in ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty") or path.startswith(_OWN_FDS):
        return
    yield from trail_erasure_findings(path, append=append)
    if target.zone == "device":
        yield finding(_CAT, "overwrite-device", "block", "critical", f"writes raw data to {path}")
    elif path.startswith(("/proc/sysrq-trigger", "/proc/sys/kernel/")):
        yield finding("system", "write-kernel-interface", "block", "critical", f"writes to {path}")
    elif path.startswith(("/sys/", "/proc/")):
        yield finding("system", "write-kernel-interface", "ask", "high", f"writes to {path}")
    elif path.startswith(_PROTECTED_FILES) and (not append or path.startswith(_AUTH_FILES)):
        yield finding(
            _CAT,
            f"{rule}-system-file",
            "block",
            "critical",
            f"{'appends to' if append else 'overwrites'} {path}",
        )
    elif secret_path_kind(path) == "ssh_authorized_keys" or path.endswith("/authorized_keys2"):
        # before the system-file branch: root's `/root/.ssh/authorized_keys` is a login key, not just a file
        yield finding(
            "system", "write-authorized-keys", "block", "critical", f"adds a login key: writes to {path}"
        )
    elif target.zone in ("system", "critical"):
        verdict = (
            "block" if not append and path.startswith(_BLOCK_ON_OVERWRITE) and rule in _OVERWRITING else "ask"
        )
        yield finding(
            _CAT, f"{rule}-system-file", verdict, "high", f"{'appends to' if append else 'overwrites'} {path}"
        )
    elif secret_path_kind(path) in ("ssh_key", "ssh_config"):
        yield finding("system", "write-ssh-trust", "ask", "high", f"writes to {path}")


_OVERWRITING = frozenset({"redirect", "tee-overwrite", "truncate", "dd"})
# Severity of overwriting a system file (docs/shell.md, severity table): programs and libraries, and the
# configuration that runs code at boot or login, decides where packages come from, or how names resolve
# for every program, block; any other file under /etc is a configuration change a person may approve
# (`mdadm --detail --scan > /etc/mdadm/mdadm.conf`, `/etc/timezone`): ask.
_BLOCK_ON_OVERWRITE = (
    *(p for p in CORE_SYSTEM if p != "/etc/"),
    "/etc/apt/sources.list", "/etc/apt/trusted.gpg", "/etc/apt/apt.conf", "/etc/yum.repos.d/", "/etc/yum.conf",
    "/etc/dnf/", "/etc/pip.conf", "/etc/npmrc", "/etc/docker/daemon.json", "/etc/containers/registries.conf",
    "/etc/pacman.conf", "/etc/pacman.d/", "/etc/zypp/repos.d/", "/etc/apk/repositories",
    "/etc/cron", "/etc/anacrontab", "/etc/init.d/", "/etc/rc.local", "/etc/rc.d/", "/etc/systemd/",
    "/etc/profile.d/", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zsh/", "/etc/zshrc", "/etc/ld.so.conf",
    "/etc/security/", "/etc/selinux/", "/etc/apparmor", "/etc/default/grub", "/etc/grub.d/", "/etc/modprobe.d/",
    "/etc/modules", "/etc/nsswitch.conf", "/etc/resolv.conf", "/etc/login.defs", "/etc/securetty",
    "/etc/ssh/", "/etc/ssl/", "/etc/ca-certificates", "/etc/pki/", "/etc/sysctl.conf", "/etc/sysctl.d/",
    "/etc/network/interfaces", "/etc/netplan/", "/etc/iptables/", "/etc/nftables.conf", "/etc/ufw/",
    "/etc/inittab", "/etc/shells", "/etc/sudo.conf", "/etc/doas.conf", "/etc/polkit-1/", "/etc/udev/rules.d/",
)  # fmt: skip
_WRITE_OPS = frozenset({">", ">|", "&>", ">&", "&>>", ">>", "<>"})


def check_redirects(exec_: Exec, ctx: Ctx) -> Iterator[ShellFinding]:
    for redirect in exec_.redirects:
        target = _redirect_target(redirect)
        if target is None:
            continue
        yield from write_target_findings(
            classify_target(target, ctx), append=">>" in redirect.op, rule="redirect"
        )


def _redirect_target(redirect: Redirect) -> Word | None:
    if redirect.op not in _WRITE_OPS or redirect.target is None:
        return None
    text = redirect.target.text
    if (
        not text
        or text.isdigit()
        or text == "-"
        or text.startswith("/dev/tcp/")
        or text.startswith("/dev/udp/")
    ):
        return None
    return redirect.target
