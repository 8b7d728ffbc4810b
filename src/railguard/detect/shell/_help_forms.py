"""Help requests that name a subcommand: `kubectl delete -h`, `gcloud help compute instances delete`,
`aws s3 rb help`. The CLI prints the subcommand's manual and runs nothing, so the verb they name (a delete,
a publish) is not an action. `--help` is read-only for every tool (`_readonly`); these shorter spellings
only for the CLIs that document them, since `-h` elsewhere is a host (`psql -h db`), a hostname
(`docker run -h box`) or a halt (`shutdown -h`)."""

from __future__ import annotations

import re

from railguard.detect.shell._view import CommandView

# CLIs whose every subcommand takes `-h` as its help flag (cobra, clap, yargs, commander, mitchellh/cli,
# the shadow and kmod tools). Not docker/podman: words after `run IMAGE` are the container's own.
_SHORT_H_IS_HELP = frozenset({
    "kubectl", "oc", "helm", "gh", "glab", "skopeo", "buildah", "hugo", "kind", "minikube", "flyctl", "fly",
    "doctl", "eksctl", "hcloud", "pulumi", "argocd", "istioctl", "flux", "velero", "rclone", "restic", "borg",
    "cargo", "gcloud", "az", "terraform", "tofu", "vault", "consul", "nomad", "packer", "vercel", "netlify",
    "firebase", "wrangler", "cdk", "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel",
    "chage", "modprobe", "rmmod", "insmod", "depmod",
})  # fmt: skip
# CLIs with a `help` command before the subcommand it explains (`cargo help yank`, `heroku help apps:destroy`).
_HELP_COMMAND = frozenset({
    "kubectl", "oc", "helm", "gh", "glab", "skopeo", "buildah", "hugo", "flyctl", "fly", "doctl", "pulumi",
    "rclone", "restic", "borg", "cargo", "gcloud", "npm", "pnpm", "git", "heroku", "vercel", "netlify",
    "firebase", "eas",
})  # fmt: skip
# aws reads `help` as the last word of any command path.
_HELP_LAST = frozenset({"aws"})
# PostgreSQL's programs spell help `-?` (their `-h` is the server host).
_QUESTION_MARK_IS_HELP = frozenset({
    "psql", "dropdb", "dropuser", "createdb", "createuser", "pg_dump", "pg_dumpall", "pg_restore",
    "pg_basebackup", "pg_ctl", "vacuumdb", "reindexdb", "clusterdb",
})  # fmt: skip
# A subcommand path: words, `apps:destroy`, `db:seed:undo`, `s3api` (no paths, ids or values).
_PATH_WORD = re.compile(r"^[A-Za-z][\w:-]*$")


def asks_for_help(view: CommandView) -> bool:
    """True for `CLI [subcommand ...] -h`, `CLI help [subcommand ...]` and `aws ... help`, with no other
    option and only subcommand-shaped words (a value or path means the command may do something)."""
    texts = view.arg_texts
    if texts == ["-?"]:
        return view.name in _QUESTION_MARK_IS_HELP
    if not texts or not all(_PATH_WORD.match(t) for t in texts if t != "-h"):
        return False
    if view.name in _SHORT_H_IS_HELP and texts[-1] == "-h" and texts.count("-h") == 1:
        return True
    if "-h" in texts:
        return False
    return (view.name in _HELP_COMMAND and texts[0] == "help") or (
        view.name in _HELP_LAST and texts[-1] == "help"
    )
