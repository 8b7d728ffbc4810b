"""infra, system and publish: cloud and cluster teardown, machine control, releasing artifacts.

Judgement: teardown that cannot be undone (destroy, terminate, delete a namespace/project/resource
group, recursive bucket delete) is `block`; changes that a human should glance at (apply without a
saved plan, deleting one resource, scaling to zero, publishing a package) are `ask`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from railguard.detect.shell._flow import upstream_closure
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_vcs import positionals
from railguard.detect.shell._rules_vendor import image_stays_local
from railguard.detect.shell._syntax import Exec
from railguard.detect.shell._view import CommandView, Ctx, finding

_TF = frozenset({"terraform", "tofu", "terragrunt", "terramate"})
_CRITICAL_SERVICES = (
    "ssh",
    "sshd",
    "networking",
    "network",
    "NetworkManager",
    "systemd-networkd",
    "systemd-resolved",
    "firewalld",
    "ufw",
    "iptables",
    "docker",
    "containerd",
    "kubelet",
    "auditd",
    "rsyslog",
    "cron",
    "crond",
    "dbus",
    "getty",
    "postgresql",
    "mysql",
    "mysqld",
    "apparmor",
    "fail2ban",
    "falco",
    "osqueryd",
    "wazuh-agent",
    "falcon-sensor",
    "nftables",
    "systemd-timesyncd",
)


CLOUD_CLIS = ("aws", "gcloud", "az", "doctl", "gsutil", "hcloud", "linode-cli", "flyctl", "heroku", "vercel")


def _positional(view: CommandView) -> list[str]:
    return [w.text for w in view.operands]


def check_infra(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    words = _positional(view)
    texts = [w.text for w in view.args]
    if name in _TF:
        yield from _terraform(words, texts)
    elif name == "pulumi":
        if "destroy" in words[:2]:
            yield finding(
                "infra", "pulumi-destroy", "block", "critical", "pulumi destroy tears the stack down"
            )
        elif "up" in words[:2] or "update" in words[:2]:
            auto = bool({"--yes", "-y", "--skip-preview"} & set(texts))
            yield finding(
                "infra", "pulumi-up", "ask", "high" if auto else "medium", "pulumi up changes infrastructure"
            )
    elif name in ("kubectl", "oc"):
        yield from _kubectl(words, texts)
    elif name == "helm" and words[:1] and words[0] in ("uninstall", "delete", "del", "un"):
        yield finding("infra", "helm-uninstall", "ask", "high", f"helm {words[0]} removes a release")
    elif name in CLOUD_CLIS:
        yield from _cloud(name, words, texts)
    elif name in ("docker", "podman"):
        yield from _docker(name, words, texts)


def _terraform(words: list[str], texts: list[str]) -> Iterator[ShellFinding]:
    sub = next((w for w in words if w in ("apply", "destroy", "plan", "state", "import", "taint")), "")
    auto = any(t in ("-auto-approve", "--auto-approve", "-force") for t in texts)
    if sub == "destroy" or (sub in ("apply", "plan") and "-destroy" in texts and sub == "apply"):
        yield finding(
            "infra", "terraform-destroy", "block", "critical", "terraform destroy tears infrastructure down"
        )
    elif sub == "apply":
        saved_plan = [w for w in words[words.index("apply") + 1 :] if not w.startswith("-")]
        if not saved_plan:
            yield finding(
                "infra",
                "terraform-apply-unplanned",
                "ask",
                "high" if auto else "medium",
                "terraform apply without a saved plan",
            )
    elif sub == "state" and any(w in ("rm", "mv", "push") for w in words):
        yield finding("infra", "terraform-state-edit", "ask", "high", "terraform state edit")


def _kubectl(words: list[str], texts: list[str]) -> Iterator[ShellFinding]:
    verb = words[0] if words else ""
    if verb == "delete":
        kinds = {w.lower() for w in words[1:2]}
        broad = bool({"--all", "-A", "--all-namespaces"} & set(texts)) or kinds & {
            "namespace",
            "namespaces",
            "ns",
            "pv",
            "pvc",
            "crd",
            "node",
            "nodes",
        }
        yield finding(
            "infra",
            "kubectl-delete",
            "block" if broad else "ask",
            "critical" if broad else "high",
            f"kubectl delete {' '.join(words[1:3])}".strip(),
        )
    elif verb == "scale" and any(t in ("--replicas=0",) for t in texts):
        yield finding(
            "infra", "kubectl-scale-zero", "ask", "high", "kubectl scale --replicas=0 stops a workload"
        )
    elif verb in ("drain", "cordon", "taint") and verb == "drain":
        yield finding("infra", "kubectl-drain", "ask", "high", "kubectl drain evicts a node's pods")
    elif verb == "replace" and "--force" in texts:
        yield finding(
            "infra", "kubectl-replace-force", "ask", "high", "kubectl replace --force recreates resources"
        )


_CLOUD_BLOCK_VERBS = (
    "terminate-instances",
    "delete-stack",
    "delete-db-instance",
    "delete-db-cluster",
    "delete-bucket",
    "delete-cluster",
    "delete-table",
    "delete-file-system",
    "rb",
    "delete-vpc",
    "delete-user",
    "delete-secret",
    "delete-repository",
    "delete-function",
)


def _cloud(name: str, words: list[str], texts: list[str]) -> Iterator[ShellFinding]:
    recursive = "--recursive" in texts or "-r" in texts or "-R" in texts
    if name == "aws" and words[:2] == ["s3", "sync"] and any(t.startswith("--delete") for t in texts):
        yield finding(
            "infra", "bucket-sync-delete", "ask", "high", "aws s3 sync --delete removes remote objects"
        )
        return
    if (name in ("aws", "gsutil") and words[:2] in (["s3", "rm"], ["rm"])) or (
        name == "gsutil" and words[:1] == ["rm"]
    ):
        if recursive:
            yield finding(
                "infra", "bucket-recursive-delete", "block", "critical", f"{name} recursive object delete"
            )
        else:
            yield finding("infra", "bucket-object-delete", "ask", "medium", f"{name} deletes storage objects")
        return
    if name == "aws" and words[:2] == ["s3", "rb"]:
        yield finding("infra", "bucket-delete", "block", "critical", "aws s3 rb deletes a bucket")
        return
    verbs = [
        w
        for w in words
        if w.startswith(("delete", "terminate", "destroy", "remove", "purge")) or w in ("rm", "rb")
    ]
    if not verbs:
        return
    verb = verbs[0]
    group_delete = name == "az" and words[:2] == ["group", "delete"]
    project_delete = name == "gcloud" and words[:1] == ["projects"]
    if verb in _CLOUD_BLOCK_VERBS or verb.startswith("terminate") or group_delete or project_delete:
        yield finding("infra", f"{name}-teardown", "block", "critical", f"{name} {' '.join(words[:3])}")
    else:
        yield finding("infra", f"{name}-delete", "ask", "high", f"{name} {' '.join(words[:3])}")


def _docker(name: str, words: list[str], texts: list[str]) -> Iterator[ShellFinding]:
    if words[:2] in (["system", "prune"], ["volume", "prune"]) or words[:2] == ["volume", "rm"]:
        yield finding("infra", "docker-prune", "ask", "medium", f"docker {' '.join(words[:2])} deletes data")
    elif words[:1] == ["push"] and not image_stays_local(name, texts):
        yield finding("publish", "docker-push", "ask", "medium", "docker push publishes an image")
    elif words[:1] in (["run"], ["create"]) and _escapes_container(texts):
        yield finding(
            "system",
            "container-host-access",
            "ask",
            "high",
            "container gets the host (privileged or / mounted)",
        )


def _escapes_container(texts: list[str]) -> bool:
    """`--privileged`, the host's root, /etc or the docker socket mounted: the container owns the host."""
    if any(t in ("--privileged", "--pid=host") or t.startswith("--cap-add=SYS_ADMIN") for t in texts):
        return True
    mounts = [texts[i + 1] for i, t in enumerate(texts[:-1]) if t in ("-v", "--volume", "--mount")]
    mounts += [t.split("=", 1)[1] for t in texts if t.startswith(("--volume=", "--mount="))]
    return any(
        m.split(":", 1)[0] in ("/", "/etc", "/root", "/var/run/docker.sock") or "src=/," in m for m in mounts
    )


_SHUTDOWN = frozenset({"shutdown", "shutdown.exe", "reboot", "halt", "poweroff", "kexec"})


def check_system(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    words = _positional(view)
    texts = [w.text for w in view.args]
    if name in _SHUTDOWN or (name in ("init", "telinit") and words[:1] in (["0"], ["6"])):
        # `-c` (Windows `/a`) cancels, `-k`/`--show` only warn or print, `-w`/`--wtmp-only` only write the
        # login record
        if not view.has("-c", "--help", "-k", "--show", "-w", "--wtmp-only") and "/a" not in texts:
            yield finding("system", "shutdown", "block", "critical", f"{name} stops the machine")
    elif name == "systemctl":
        yield from _systemctl(words, texts)
    elif name in ("kill", "pkill", "killall", "killall5", "skill", "fuser"):
        if name in ("pkill", "killall") and _never_stops(_signal(name, texts)):
            return
        yield from _kill(name, texts, words)
        yield from _kill_by_name(view, name, texts)
    elif name in ("iptables", "ip6tables", "nft") and (
        view.has("-F", "--flush", "-X")
        or "flush" in words
        or (any(t == "-P" for t in texts) and "ACCEPT" in texts)
    ):
        yield finding("system", "firewall-flush", "block", "high", f"{name} flushes or opens the firewall")
    elif name == "ufw" and words[:1] in (["disable"], ["reset"]):
        yield finding("system", "firewall-disable", "block", "high", f"ufw {words[0]}")
    elif name in ("userdel", "deluser", "groupdel", "delgroup"):
        yield finding("system", "user-delete", "ask", "high", f"{name} removes an account")
    elif name in ("passwd", "chpasswd", "usermod", "chage", "visudo", "useradd", "adduser") and not (
        (name == "passwd" and view.has("-S", "--status")) or (name == "chage" and view.has("-l", "--list"))
        or (name == "visudo" and view.has("-c", "--check"))
    ):  # fmt: skip
        yield finding("system", "account-change", "ask", "medium", f"{name} changes accounts or credentials")
    elif name == "crontab" and view.has("-r"):
        yield finding("system", "crontab-remove", "block", "high", "crontab -r deletes every cron job")
    elif name == "crontab" and words and not view.has("-l", "-e"):
        yield finding("system", "crontab-install", "ask", "medium", "crontab replaces the scheduled jobs")
    elif name in ("setenforce",) and words[:1] in (["0"], ["Permissive"], ["permissive"]):
        yield finding("security", "selinux-off", "block", "high", "setenforce 0 disables SELinux")
    elif name in ("aa-teardown", "csrutil", "spctl") and (
        name == "aa-teardown" or "disable" in words or "--master-disable" in texts
    ):
        yield finding(
            "security", "mac-disabled", "block", "high", f"{name} switches mandatory access control off"
        )
    elif name == "aa-disable":
        yield finding(
            "security", "mac-profile-disabled", "ask", "medium", "aa-disable turns an AppArmor profile off"
        )
    elif name == "ufw" and words[:2] == ["default", "allow"]:
        yield finding("security", "firewall-disable", "block", "high", "ufw default allow opens every port")
    elif name == "sysctl" and any(_WEAKENING_SYSCTL.match(t) for t in texts):
        yield finding(
            "security", "kernel-hardening-off", "block", "high", "sysctl turns a kernel protection off"
        )
    elif name == "sysctl" and view.has("-w"):
        yield finding("system", "sysctl-write", "ask", "medium", "sysctl -w changes kernel settings")
    elif name in ("swapoff", "umount") and view.has("-a"):
        yield finding("system", f"{name}-all", "ask", "high", f"{name} -a")


def _systemctl(words: list[str], texts: list[str]) -> Iterator[ShellFinding]:
    verb = words[0] if words else ""
    if verb in ("poweroff", "reboot", "halt", "kexec", "emergency", "rescue"):
        yield finding("system", "shutdown", "block", "critical", f"systemctl {verb}")
    elif verb in ("stop", "disable", "mask", "kill"):
        units = [w.removesuffix(".service") for w in words[1:]]
        if any(u in _CRITICAL_SERVICES for u in units):
            yield finding(
                "system", "stop-critical-service", "block", "high", f"systemctl {verb} {' '.join(units)}"
            )
        elif verb == "kill" and _uncatchable(_signal("systemctl", texts)):
            yield finding(
                "system", "kill-uncatchable", "block", "high", f"systemctl kill -s KILL {' '.join(units)}"
            )
        elif units and (verb != "disable" or "--now" in texts):
            yield finding("system", "service-stop", "ask", "high", f"systemctl {verb} {' '.join(units)}")


_WEAKENING_SYSCTL = re.compile(
    r"^kernel\.(?:randomize_va_space=0|yama\.ptrace_scope=0|kptr_restrict=0|dmesg_restrict=0|modules_disabled=0)$"
)
# Long-running servers: stopping every process of these names is an outage.
_SERVICE_NAMES = re.compile(
    r"postgres|mysql|mariadb|mongo|redis|nginx|apache|httpd|java|gunicorn|uwsgi|uvicorn|puma|unicorn|sidekiq|"
    r"celery|rails|php-fpm|dockerd|containerd|kubelet|sshd|elasticsearch|kafka|rabbitmq|memcached|haproxy|"
    r"caddy|traefik|envoy|consul|vault|etcd|beam|supervisord|systemd|\bnode\b|pm2|clickhouse|cassandra|"
    r"zookeeper|tomcat|jboss|weblogic|influxd|prometheus|grafana",
    re.IGNORECASE,
)
_PATTERN_VALUED = {"pkill": frozenset({"-u", "-U", "-g", "-G", "-P", "-s", "-t", "--signal", "-F", "--pidfile"}),
                   "killall": frozenset({"-u", "--user", "-o", "-y", "-s", "--signal", "--older-than",
                                         "--younger-than"}),
                   "skill": frozenset({"-u", "-t", "-p", "-c"})}  # fmt: skip


def _signal(name: str, texts: list[str]) -> str | None:
    """The signal a kill-family command sends (`-9`, `-KILL`, `-s KILL`, `--signal=SIGKILL`)."""
    valued = ("-s", "--signal", "-n") if name in ("kill", "killall", "systemctl") else ("--signal",)
    for i, text in enumerate(texts):
        if text in valued and i + 1 < len(texts):
            return texts[i + 1]
        if text.startswith("--signal="):
            return text.split("=", 1)[1]
        if re.fullmatch(r"-(?:\d+|(?:SIG)?[A-Z][A-Z0-9+]*)", text):
            return text[1:]
    return None


def _never_stops(signal: str | None) -> bool:
    """Signal 0 only checks that a process exists (`pkill -0 node`); CONT resumes a stopped one."""
    return signal is not None and signal.upper().removeprefix("SIG") in ("0", "CONT")


def _uncatchable(signal: str | None) -> bool:
    return signal is not None and signal.upper().removeprefix("SIG") in ("9", "KILL")


def _reads_pid_file(exec_: Exec) -> bool:
    """`cat tmp/pids/server.pid`: the pid the program itself recorded, not a search by name."""
    return (
        exec_.argv[:1] == ["cat"] and all(a.endswith(".pid") for a in exec_.argv[1:]) and len(exec_.argv) > 1
    )


def _kill_by_name(view: CommandView, name: str, texts: list[str]) -> Iterator[ShellFinding]:
    """SIGKILL of every process of a server's name (`pkill -9 postgres`, `kill -9 $(pgrep mysqld)`) or of a
    user is an outage with no clean shutdown: block. SIGKILL of other names or of pids found at run time,
    and catchable signals to a server: ask."""
    uncatchable = _uncatchable(_signal(name, texts))
    if name == "kill":
        producers = [sub for w in view.args for sub in w.subs] + upstream_closure(view.exec)
        chosen_at_run_time = view.exec.dynamic_operands or any(w.dynamic or "$(" in w.text for w in view.args)
        own = producers and all(p.argv[:1] == ["jobs"] or _reads_pid_file(p) for p in producers)
        if uncatchable and chosen_at_run_time and not own:
            server = any(_SERVICE_NAMES.search(" ".join(p.argv[1:])) for p in producers)
            yield finding("system", "kill-uncatchable", "block" if server else "ask", "high",
                          "kill -9 of processes found at run time")  # fmt: skip
        return
    if name == "fuser":
        if view.has("-k"):
            verdict = "block" if uncatchable else "ask"
            yield finding("system", "kill-uncatchable" if uncatchable else "service-stop", verdict, "high",
                          "fuser -k kills whatever holds a port or file")  # fmt: skip
        return
    patterns = positionals(texts, _PATTERN_VALUED.get(name, frozenset()))
    if uncatchable and (patterns or view.has("-u", "--user")):
        target = " ".join(patterns) or "a user's processes"
        server = any(_SERVICE_NAMES.search(p) for p in patterns) or not patterns
        yield finding(
            "system", "kill-uncatchable", "block" if server else "ask", "high", f"{name} -KILL {target}"
        )
    elif any(_SERVICE_NAMES.search(p) for p in patterns):
        yield finding("system", "service-stop", "ask", "high", f"{name} {' '.join(patterns)} stops a server")


def _kill(name: str, texts: list[str], words: list[str]) -> Iterator[ShellFinding]:
    if name == "killall5":
        yield finding("system", "kill-all", "block", "critical", "killall5 signals every process")
        return
    if name == "kill":
        targets = [t for t in texts if (t.lstrip("-").isdigit() and not t.startswith("-")) or t == "-1"]
        signal_args = [t for t in texts if t.startswith("-") and t != "-1"]
        if "-0" in texts or "-s0" in texts:
            return  # signal 0 only checks that the process exists
        if "1" in targets or ("-1" in texts and (signal_args or texts[-1:] == ["-1"])):
            yield finding(
                "system", "kill-init-or-all", "block", "critical", "kill targets init or every process"
            )
        return
    patterns = [w for w in words if not w.isdigit()]
    if name == "pkill" and any(p in (".", ".*", "", "^", "$") or len(p.strip(".*^$")) == 0 for p in patterns):
        yield finding("system", "kill-all", "block", "critical", "pkill matches every process")
    elif name == "killall" and any(p in ("sshd", "init", "systemd", "dockerd", "-u") for p in patterns):
        yield finding("system", "kill-critical", "ask", "high", f"killall {' '.join(patterns)}")


_PUBLISH = {
    ("npm", "publish"), ("pnpm", "publish"), ("yarn", "publish"), ("yarn", "npm"), ("twine", "upload"),
    ("cargo", "publish"), ("gem", "push"), ("poetry", "publish"), ("flit", "publish"), ("hatch", "publish"),
    ("uv", "publish"), ("mvn", "deploy"), ("gradle", "publish"), ("vsce", "publish"), ("ovsx", "publish"),
    ("helm", "push"), ("dotnet", "nuget"), ("nuget", "push"), ("pdm", "publish"), ("bun", "publish"),
    ("jsr", "publish"), ("deno", "publish"), ("lerna", "publish"), ("changeset", "publish"),
}  # fmt: skip


def check_publish(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    words = _positional(view)
    first = words[0] if words else ""
    if (view.name, first) in _PUBLISH:
        yield finding(
            "publish", f"{view.name}-publish", "ask", "medium", f"{view.name} {first} publishes a release"
        )
    elif view.name == "gh" and words[:2] == ["release", "create"]:
        yield finding("publish", "gh-release", "ask", "medium", "gh release create publishes a release")
    elif view.name == "gh" and words[:2] == ["repo", "delete"]:
        yield finding("vcs_history", "gh-repo-delete", "block", "critical", "gh repo delete")


# (command, leading operands) -> (category, verdict): teardown verbs of tools without a dedicated rule.
_TEARDOWN: dict[tuple[str, ...], tuple[str, str]] = {
    ("eksctl", "delete"): ("infra", "ask"), ("virsh", "undefine"): ("infra", "ask"),
    ("virsh", "destroy"): ("infra", "ask"), ("heroku", "apps:destroy"): ("infra", "ask"),
    ("heroku", "pg:reset"): ("database", "ask"), ("heroku", "addons:destroy"): ("infra", "ask"),
    ("etcdctl", "del"): ("database", "ask"), ("consul", "kv", "delete"): ("database", "ask"),
    ("kind", "delete"): ("infra", "ask"), ("minikube", "delete"): ("infra", "ask"),
    ("nomad", "job", "stop"): ("infra", "ask"), ("openstack", "server", "delete"): ("infra", "ask"),
    ("firebase", "firestore:delete"): ("database", "ask"), ("supabase", "db", "reset"): ("database", "ask"),
    ("gradlew", "publish"): ("publish", "ask"), ("mvnw", "deploy"): ("publish", "ask"),
    ("railway", "down"): ("infra", "ask"), ("netlify", "sites:delete"): ("infra", "ask"),
}  # fmt: skip
TEARDOWN_NAMES = tuple(
    sorted({key[0] for key in _TEARDOWN} | {"docker", "podman", "npx", "bunx", "pnpx", "nsenter"})
)


def check_teardown_verbs(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    words = _positional(view)
    texts = [w.text for w in view.args]
    for key, (category, verdict) in _TEARDOWN.items():
        if key[0] == view.name and tuple(words[: len(key) - 1]) == key[1:]:
            yield finding(category, f"{view.name}-{key[1].replace(':', '-')}", verdict, "high",
                          f"{view.name} {' '.join(words[:3])}")  # fmt: skip
            return
    if view.name in ("docker", "podman"):
        if words[:1] in (["rm"], ["rmi"]) and any(w.dynamic for w in view.args):
            yield finding("infra", "docker-remove-many", "ask", "medium",
                          f"{view.name} {words[0]} removes containers/images chosen at run time")  # fmt: skip
        elif "--push" in texts or any(t.startswith("--output=type=registry") for t in texts):
            yield finding(
                "publish", "docker-push", "ask", "medium", f"{view.name} build --push publishes an image"
            )
    elif view.name in ("npx", "bunx", "pnpx") and words:
        yield finding("remote_code", "run-remote-package", "ask", "high",
                      f"{view.name} runs code fetched from {words[0]}")  # fmt: skip
    elif view.name == "nsenter" and any(t in ("-t", "--target") for t in texts) and "1" in texts:
        yield finding(
            "system", "enter-host-namespaces", "ask", "high", "nsenter joins the namespaces of PID 1"
        )
