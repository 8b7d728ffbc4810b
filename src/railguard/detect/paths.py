"""Path facts: where a path really points, whether it holds secrets, whether it leaves the workspace.

Pure string work, no filesystem access: this runs on the guard's hot path and often on paths that
live on another machine. A home of `None` keeps `~` as a symbolic prefix so `~/.ssh/id_rsa` is still
recognised.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from railguard.detect._budget import checkpoint

__all__ = [
    "PathAnalysis",
    "analyze_paths",
    "is_inside",
    "is_system_path",
    "resolve_path",
    "secret_path_kind",
]

_SYSTEM_TOPS = frozenset(
    {
        "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "root", "sbin",
        "srv", "sys", "usr", "var", "home", "snap", "System", "Library", "private", "Applications",
        "Users", "mnt", "media", "run",
    }
)  # fmt: skip
# Scratch areas under system tops that agents legitimately write to.
_SCRATCH_PREFIXES = ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp")
_HARMLESS_DEVICES = frozenset(
    {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/zero"}
)


def resolve_path(path: str, *, workspace: str | None = None, home: str | None = None) -> str:
    """Expand `~`, `$HOME`, `${HOME}`, join relative paths to the workspace and fold `.`/`..`."""
    return _resolve(path, workspace, home)


@lru_cache(maxsize=4096)
def _resolve(path: str, workspace: str | None, home: str | None) -> str:
    home_root = home.rstrip("/") or "/" if home else "~"
    text = path.strip()
    for var in ("${HOME}", "$HOME"):
        if text == var or text.startswith(var + "/"):
            text = home_root + text[len(var) :]
            break
    if text == "~" or text.startswith("~/"):
        text = home_root + text[1:]
    elif text.startswith("~"):
        user, _, rest = text[1:].partition("/")
        text = ("/root" if user == "root" else f"/home/{user}") + ("/" + rest if rest else "")
    if not text.startswith(("/", "~")) and workspace:
        text = posixpath.join(workspace, text)
    if not text:
        return "."
    normalized = posixpath.normpath(text)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return normalized


def is_inside(path: str, root: str) -> bool:
    """True when resolved `path` is `root` or below it."""
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root if root == "/" else root + "/")


def is_system_path(path: str) -> bool:
    """True for `/` and the operating system's own trees (/etc, /usr, /boot, /dev, ...), not scratch."""
    resolved = _resolve(path, None, None)
    if resolved == "/":
        return True
    if not resolved.startswith("/") or resolved in _HARMLESS_DEVICES:
        return False
    if any(is_inside(resolved, scratch) for scratch in _SCRATCH_PREFIXES):
        return False
    top = resolved[1:].split("/", 1)[0]
    if top in ("home", "Users"):
        return resolved.count("/") == 1  # /home itself, not a user's files
    return top in _SYSTEM_TOPS


# basename -> kind, for names that are secret wherever they sit. Everyday words (`identity`, the old SSH
# key name; `shadow`) are secrets only where they sit (`~/.ssh/identity`, `/etc/shadow`), not as names.
_SECRET_NAMES = {
    "id_rsa": "ssh_key", "id_dsa": "ssh_key", "id_ecdsa": "ssh_key", "id_ed25519": "ssh_key",
    "id_ecdsa_sk": "ssh_key", "id_ed25519_sk": "ssh_key",
    "credentials": None, "kubeconfig": "kubeconfig", ".netrc": "netrc", "_netrc": "netrc",
    ".pgpass": "pgpass", ".npmrc": "npmrc", ".pypirc": "pypirc", ".git-credentials": "git_credentials",
    ".vault-token": "vault_token", "terraform.tfstate": "terraform_state",
    "terraform.tfstate.backup": "terraform_state", ".my.cnf": "mysql_config", ".s3cfg": "s3cfg",
    ".boto": "gcloud_credentials", "application_default_credentials.json": "gcloud_credentials",
    "credentials.db": "gcloud_credentials", "access_tokens.db": "gcloud_credentials",
    "credentials.tfrc.json": "terraform_credentials", ".htpasswd": "htpasswd",
    "login data": "browser_store", "cookies": "browser_store", "logins.json": "browser_store",
    "key4.db": "browser_store", "key3.db": "browser_store", "cookies.sqlite": "browser_store",
    "web data": "browser_store", "login.keychain": "keychain", "login.keychain-db": "keychain",
    ".bash_history": "shell_history", ".zsh_history": "shell_history", "secring.gpg": "gpg_private",
    "service-account.json": "credentials_file", "credentials.json": "credentials_file",
    "client_secret.json": "credentials_file", "secrets.yml": "credentials_file",
    "secrets.yaml": "credentials_file", "secrets.json": "credentials_file", ".env": "dotenv",
    "master.passwd": "shadow", "environ": None, "hosts.yml": None, "config.json": None, "config": None,
    "known_hosts": "ssh_known_hosts", "authorized_keys": "ssh_authorized_keys",
}  # fmt: skip
# client configuration files kept beside the keys (`config`, `codespaces_config`, `work.conf`): no key material
_SSH_CONFIG_NAME = re.compile(r"^config$|^config\.|[._-]config$|\.conf$")
# OpenSSH's key file names outside ~/.ssh (`id_ed25519`, `id_rsa_deploy`, `id_ecdsa_sk.bak`): `id_` and a key
# type. Other `id_` names (`id_map.csv`, `--output id_as_float`) are ordinary files.
_SSH_KEY_NAME = re.compile(r"^id_(?:rsa|dsa|ecdsa|ed25519|xmss)(?:_sk)?(?:$|[._-])")
_SHADOW_NAMES = frozenset({"shadow", "gshadow", "shadow-", "gshadow-", "shadow.bak", "gshadow.bak"})
_PRIVATE_KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".kdbx")
# PEM is a container: a `.pem` whose name says certificate, request, parameters or public half holds no
# private key (`pca-cert.pem`, `ec_param.pem`, `fullchain.pem`); a name that also says key or private
# (`cert-and-key.pem`) or says nothing (`server.pem`) still counts as one.
_PUBLIC_PEM = re.compile(r"cert|crt|csr|param|chain|bundle|public|(?:^|[-_.])(?:ca|pub|req)(?:[-_.]|$)")
_PRIVATE_PEM = re.compile(r"key|priv")
_DOTENV_PUBLIC_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".defaults")
# directory (as the last component) -> kind, for "the whole store" and globs inside it.
_SECRET_DIRS = {
    ".ssh": "ssh_dir", ".aws": "aws_credentials", ".gnupg": "gpg_private", ".kube": "kubeconfig",
    "gcloud": "gcloud_credentials", ".azure": "azure_credentials", ".password-store": "password_store",
    "keychains": "keychain", "private-keys-v1.d": "gpg_private", "private": None,
}  # fmt: skip
_GLOB_CHARS = frozenset("*?[")


@lru_cache(maxsize=4096)
def secret_path_kind(path: str) -> str | None:
    """What kind of secret the path holds (`ssh_key`, `aws_credentials`, `dotenv`, ...), else None.
    Remembered per path: the rules of one command ask it of the same words again."""
    return _secret_kind(path)


def _secret_kind(path: str) -> str | None:
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    if not parts:
        return None
    name = parts[-1].lower()
    parent = parts[-2].lower() if len(parts) > 1 else ""
    if _GLOB_CHARS & set(name):
        in_store = _SECRET_DIRS.get(parent) or (
            secret_path_kind("/".join(parts[:-1])) if len(parts) > 1 else None
        )
        return in_store or _glob_kind(name)
    ssh_key_name = bool(_SSH_KEY_NAME.match(name))
    if parent == ".ssh" or ssh_key_name:
        if name.endswith(".pub"):
            return None
        if name in ("known_hosts", "authorized_keys") or _SSH_CONFIG_NAME.search(name):
            return {"known_hosts": "ssh_known_hosts", "authorized_keys": "ssh_authorized_keys"}.get(
                name, "ssh_config"
            )
        return "ssh_key"
    kind = _kind_by_location(parts, name, parent)
    if kind:
        return kind
    if name in _SECRET_NAMES:
        return _SECRET_NAMES[name]
    if name.startswith(".env.") or name.endswith(".env"):
        return None if name.endswith(_DOTENV_PUBLIC_SUFFIXES) else "dotenv"
    if name.endswith(_PRIVATE_KEY_SUFFIXES):
        return None if name.endswith(".pem") and _public_pem(name[:-4]) else "private_key"
    if name.endswith((".keychain", ".keychain-db")):
        return "keychain"
    return _SECRET_DIRS.get(name)


def _public_pem(stem: str) -> bool:
    stem = stem.replace("pubkey", "pub")
    return not _PRIVATE_PEM.search(stem) and bool(_PUBLIC_PEM.search(stem))


def _glob_kind(name: str) -> str | None:
    """A pattern whose every match is a secret-named file (`*.pem`, `id_*`, `*.key`) reads secrets; `*` and
    `*.txt` do not. The wildcards are filled with a plain letter and the name judged as usual."""
    if name.startswith("id_") and not name.endswith(".pub"):  # `id_*` matches every default key name
        return "ssh_key"
    filled = re.sub(r"\[[^\]]*\]|[*?]", "x", name)
    if not filled.strip("x.") or filled == name:
        return None
    kind = secret_path_kind(filled)
    return kind if kind in ("private_key", "ssh_key", "dotenv", "keychain", "gpg_private") else None


def _kind_by_location(parts: list[str], name: str, parent: str) -> str | None:
    """Secrets whose name is generic (`config`, `credentials`) and only the folder tells."""
    joined = "/" + "/".join(p.lower() for p in parts)
    if parent == ".aws" and name in ("credentials", "config"):
        return "aws_credentials" if name == "credentials" else "aws_config"
    if parent == ".kube" and name == "config":
        return "kubeconfig"
    if parent == ".docker" and name == "config.json":
        return "docker_config"
    if "/gcloud/" in joined and name in ("credentials.db", "access_tokens.db", "legacy_credentials"):
        return "gcloud_credentials"
    if "/gcloud/legacy_credentials" in joined:
        return "gcloud_credentials"
    if parent == "gh" and name == "hosts.yml":
        return "gh_token"
    if parent in (".cargo", ".gem") and name in ("credentials", "credentials.toml"):
        return "package_credentials"
    if name in _SHADOW_NAMES and parent in ("etc", "backups"):  # `/etc/shadow`, `/var/backups/shadow.bak`
        return "shadow"
    if parent == "proc" or (len(parts) > 2 and parts[-3] == "proc"):
        return "process_environ" if name == "environ" else None
    if joined.startswith("/etc/ssl/private/") or "/private-keys-v1.d/" in joined:
        return "private_key"
    if parent == ".gnupg" and name in ("secring.gpg", "private-keys-v1.d"):
        return "gpg_private"
    if name == "credentials" and parent in (".azure", "gcloud", ".config"):
        return "cloud_credentials"
    return None


def _escapes(path: str, workspace: str | None, home: str | None) -> bool:
    if not workspace or not path.startswith(("/", "~")) or path in _HARMLESS_DEVICES:
        return False
    return not is_inside(path, _resolve(workspace, None, home))


@dataclass(frozen=True, slots=True)
class SecretPath:
    path: str
    kind: str


@dataclass(frozen=True, slots=True)
class PathAnalysis:
    paths: tuple[str, ...]
    secret: tuple[SecretPath, ...]
    outside_workspace: tuple[str, ...]
    traversal: bool
    system: tuple[str, ...]
    writes_outside_workspace: bool

    def to_fact(self) -> dict[str, Any]:
        return {
            "paths": list(self.paths),
            "secret": [{"path": s.path, "kind": s.kind} for s in self.secret],
            "outside_workspace": list(self.outside_workspace),
            "traversal": self.traversal,
            "system": list(self.system),
            "writes_outside_workspace": self.writes_outside_workspace,
        }


def analyze_paths(
    paths: Iterable[str], *, workspace: str | None, home: str | None, write: bool
) -> PathAnalysis:
    """Resolve each path and report secrets, escapes from the workspace and system locations."""
    resolved: list[str] = []
    secret: list[SecretPath] = []
    outside: list[str] = []
    system: list[str] = []
    traversal = False
    # A workspace may live under a system-looking root (/srv/app, /opt/app): inside it is not "system".
    root = _resolve(workspace, None, home).rstrip("/") if workspace else ""
    for raw in paths:
        checkpoint("paths")
        if not isinstance(raw, str) or not raw:
            continue
        path = _resolve(raw, workspace, home)
        resolved.append(path)
        kind = secret_path_kind(path) or secret_path_kind(raw)
        if kind and kind != "ssh_known_hosts":
            secret.append(SecretPath(path, kind))
        if is_system_path(path) and not (root and is_inside(path, root)):
            system.append(path)
        if path == ".." or path.startswith("../"):
            traversal = True  # escapes the current directory even without a known workspace
        elif _escapes(path, workspace, home):
            outside.append(path)
            traversal = traversal or ".." in raw.replace("\\", "/").split("/")
    return PathAnalysis(
        paths=tuple(resolved),
        secret=tuple(secret),
        outside_workspace=tuple(outside),
        traversal=traversal,
        system=tuple(system),
        writes_outside_workspace=write and bool(outside),
    )
