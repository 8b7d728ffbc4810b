"""Which effect rules run for which command names (the vendor catalogue, cross-cutting effects), and the
checks that run for every command. `_analyze` merges this table into its registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from railguard.detect.shell import (
    _host_effects,
    _rules_admin,
    _rules_api,
    _rules_data,
    _rules_db,
    _rules_devbox,
    _rules_effects,
    _rules_exposure,
    _rules_fs,
    _rules_http_apis,
    _rules_infra,
    _rules_rc,
    _rules_vendor,
    _rules_vendor_long_tail,
)
from railguard.detect.shell._catalogue import catalogue
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._view import CommandView, Ctx

Rule = Callable[[CommandView, Ctx], Iterable[ShellFinding]]

_BY_NAMES: tuple[tuple[Rule, tuple[str, ...]], ...] = (
    (_rules_effects.check_package_config,
     ("npm", "pnpm", "yarn", "bun", "pip", "pip3", "uv", "pipx", "poetry", "pdm", "cargo", "gem", "bundle",
      "conda", "mamba", "micromamba", "composer", "go", "nuget", "dotnet")),
    (_rules_exposure.check_cloud_exposure,
     ("aws", "gcloud", "gsutil", "bq", "az", "doctl", "hcloud", "linode-cli", "oci", "scw", "ibmcloud", "kubectl", "oc",
      "openstack", "exo", "vultr-cli", "civo", "upctl")),
    (_rules_exposure.check_forge_visibility, ("gh", "glab")),
    (_rules_exposure.check_servers,
     ("http", "SimpleHTTPServer", "php", "ruby", "httpd", "http-server", "serve", "live-server", "static-server")),
    (_rules_exposure.check_tunnels,
     ("ngrok", "cloudflared", "lt", "localtunnel", "bore", "tailscale", "zrok", "localxpose", "pinggy", "kubectl",
      "oc", "ssh", "jupyter", "dockerd", "redis-server", "mongod", "memcached")),
    (_rules_exposure.check_network_down,
     ("ip", "ifconfig", "ifdown", "if-down", "nmcli", "rfkill", "tc", "iptables", "ip6tables", "networksetup",
      "route")),
    (_rules_exposure.check_disk_fill,
     ("fallocate", "xfs_mkfile", "mkfile", "dd", "cat", "pv", "yes", "head", "stress-ng")),
    (_rules_exposure.check_storage,
     ("zpool", "zfs", "lvremove", "vgremove", "pvremove", "btrfs", "cryptsetup", "nvme", "vgreduce", "lvreduce",
      "mdadm", "hdparm", "sfdisk")),
    (_rules_fs.check_fd_exec, ("fd", "fdfind")),
    (_rules_rc.check_fish_universal, ("set",)),
    (_rules_effects.check_package_removal,
     ("apt", "apt-get", "aptitude", "yum", "dnf", "zypper", "apk", "brew", "snap", "flatpak", "port", "pip", "pip3",
      "gem", "npm", "pnpm", "yarn", "conda", "mamba", "rustup", "nix-collect-garbage", "pacman", "dpkg", "rpm")),
    (_rules_exposure.check_service_stop,
     ("supervisorctl", "pm2", "launchctl", "rc-service", "sv", "pg_ctl", "pg_ctlcluster", "apachectl",
      "apache2ctl", "brew", "nginx", "caddy", "haproxy", "initctl", "s6-svc")),
)  # fmt: skip
SYSTEM_NAMES = ("skill", "fuser", "aa-teardown", "aa-disable", "csrutil", "spctl")
# Local tools whose own verbs (`apt remove`, `git rm`, `tmux kill-session`) are everyday work: never judged
# as an uncatalogued resource CLI.
_LOCAL_TOOLS = frozenset({"apt", "apt-get", "aptitude", "dpkg", "yum", "dnf", "zypper", "pacman", "apk", "brew",
                          "port", "snap", "flatpak", "nix", "nix-env", "git", "hg", "svn", "tmux", "screen",
                          "docker-compose", "vagrant", "lxc", "multipass", "virsh", "tc", "ipset", "dmsetup",
                          "keytool", "gpg", "trash", "gio", "atq", "at", "crontab", "make", "cmake", "bazel",
                          "kind", "minikube", "code", "emacs", "vim", "systemd-run", "journalctl", "quilt",
                          "rustup", "sdk", "asdf", "mise", "nvm", "pyenv", "rbenv", "goenv", "update-alternatives",
                          "ufw", "firewall-cmd", "ip", "nmcli", "bluetoothctl", "pactl", "xinput", "xrandr"})  # fmt: skip


def rules_by_name() -> Iterator[tuple[Rule, Iterable[str]]]:
    yield _rules_vendor.check_vendor_cli, tuple(catalogue().clis)
    yield _rules_vendor_long_tail.check_vendor_long_tail, tuple(catalogue().clis)
    yield _host_effects.check_host_effects, _host_effects.names()
    yield _rules_admin.check_admin, _rules_admin.ADMIN_NAMES
    yield _rules_api.check_api_change, _rules_api.API_CLIENTS
    yield _rules_http_apis.check_http_apis, _rules_http_apis.NAMES
    yield _rules_data.check_statements, _rules_data.STATEMENT_CLIENTS
    yield _rules_data.check_stores, ("mongo", "mongosh", "redis-cli")
    yield _rules_data.check_app_tasks, _rules_data.TASK_TOOLS | _rules_data.CONSOLE_TOOLS
    yield _rules_data.check_broadcast, _rules_data.BROADCAST_TOOLS
    yield _rules_data.check_tracker_bulk, _rules_data.TRACKER_TOOLS
    yield _rules_infra.check_infra, _rules_infra.RULE_NAMES
    yield from _BY_NAMES


EVERY_COMMAND: tuple[Rule, ...] = (
    _rules_effects.check_guard_protection,
    _rules_admin.check_tool_config_writes,
    _rules_devbox.check_devbox,
)


_known: list[frozenset[str]] = []  # built once, after `_analyze` registered every rule


def unknown_cli_findings(view: CommandView, registered: Iterable[str]) -> Iterator[ShellFinding]:
    if not _known:
        # A program named only by the host-effect table has a few flag patterns judged there; its other
        # `NOUN VERB` subcommands (`pod trunk delete`) are still an unknown CLI's.
        judged_elsewhere = {name for rule, names in _BY_NAMES for name in names}
        judged_elsewhere |= set(_rules_admin.ADMIN_NAMES) | set(_rules_api.API_CLIENTS)
        # the data rules judge a few tasks of app and migration tools: their other subcommands stay unknown
        data_only = (_rules_data.TASK_TOOLS | _rules_data.CONSOLE_TOOLS) - _rules_db.FRAMEWORK_AND_SQL
        table_only = frozenset(_host_effects.names()) | frozenset(_rules_infra.TABLE_NAMES)
        host_only = (table_only | data_only) - judged_elsewhere
        _known.append((frozenset(registered) - host_only) | _LOCAL_TOOLS | frozenset(catalogue().clis))
    yield from _rules_vendor.check_unknown_cli(view, _known[0])
    if view.name and view.name not in _known[0]:
        yield from _rules_vendor_long_tail.unknown_vendor_findings(view)


def assignment_findings(assignments: list[tuple[str, str]]) -> Iterator[ShellFinding]:
    yield from _rules_effects.assignment_findings(assignments)
    yield from _rules_devbox.assignment_findings(assignments)
