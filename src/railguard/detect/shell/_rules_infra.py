"""Infrastructure services an ops agent administers: the infra effect table (`infra_effects.yaml`), the
command languages of their consoles (routing daemons, PBXs, batch and backup servers, load-balancer and DHCP
sockets), their admin HTTP APIs, and the shapes that turn one command into "every one": a stop or delete fed
by a listing of all guests, a kill fed by the GPUs' process list, a retention that keeps one copy.

Judgement: what takes a whole service, cluster or fleet away, deletes data, or opens it to everyone blocks;
a change to one resource that a human could reasonably approve asks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from railguard.detect._budget import off_the_clock
from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell._flow import upstream_closure
from railguard.detect.shell._host_effects import (
    HostEffect,
    first_match_findings,
    index_by_name,
    read_effect_table,
)
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_admin import fed_text
from railguard.detect.shell._syntax import Exec
from railguard.detect.shell._view import CommandView, Ctx, finding

# Every program named in `infra_effects.yaml` (a test keeps the two equal): registering by a literal list
# keeps the table unread until a command names one of them.
TABLE_NAMES = ("zfs", "zpool", "lvconvert", "lvresize", "lvextend", "lvchange", "vgchange", "btrfs", "ceph",
               "gluster", "targetcli", "tgtadm", "mc", "qm", "pct", "pvesh", "openstack", "govc", "vim-cmd",
               "xe", "lxc", "incus", "virsh", "vagrant", "nomad", "esxcli", "pcs", "crm", "corosync-quorumtool",
               "ipvsadm", "arping", "send_arp", "arpsend", "tc", "wondershaper", "comcast", "pumba", "nft",
               "ipset", "fail2ban-client", "csf", "dnsmasq", "kea-shell", "yersinia", "dhcpstarv", "dhcpig",
               "pig.py", "ipa", "hostapd_cli", "scontrol", "sacctmgr", "nvidia-smi", "fuser", "conda", "mamba",
               "micromamba", "postconf", "postfix", "postsuper", "doveadm", "grafana-cli", "grafana", "thanos",
               "curator", "restic", "kopia", "nova", "istioctl", "consul", "dvc", "kaggle",
               "a2dissite", "a2dismod", "a2disconf", "caddy")  # fmt: skip


_TABLE_NAME_SET = frozenset(TABLE_NAMES)


@lru_cache(maxsize=1)
def infra_effects() -> tuple[HostEffect, ...]:
    return _table()[0]


@lru_cache(maxsize=1)
def allowed_examples() -> tuple[str, ...]:
    return _table()[1]


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[HostEffect, ...], tuple[str, ...]]:
    # Read on the first command that names one of its programs, inside an evaluation: off the deadline's clock.
    return off_the_clock(lambda: read_effect_table("infra_effects.yaml", "shell-infra-effects"))


@lru_cache(maxsize=1)
def _by_name() -> dict[str, tuple[HostEffect, ...]]:
    return index_by_name(infra_effects())


# -- console command languages ------------------------------------------------------------------------------
# (pattern, verdict, what it does): the first that matches a console's text decides. Verdict `loop`: only
# inside a loop (where it blocks); each one alone is everyday work.
Console = tuple[tuple[LazyRe2, str, str], ...]


def _console(*entries: tuple[str, str, str]) -> Console:
    return tuple((LazyRe2("(?im)" + pattern), verdict, why) for pattern, verdict, why in entries)


_ROUTING = _console(
    (r"^\s*clear\s+(?:ip\s+)?bgp\s+(?:ipv[46]\s+\w+\s+)?(?:\*|all)\s*$|^\s*no\s+router\s+\w+|^\s*no\s+neighbor\s"
     r"|^\s*neighbor\s+\S+\s+shutdown\b|^\s*(?:ip|ipv6)\s+route\s+(?:0\.0\.0\.0/0|0\.0\.0\.0\s+0\.0\.0\.0|::/0)\s"
     r"|^\s*network\s+(?:0\.0\.0\.0/0|::/0)\b|^\s*shutdown\s*$|^\s*no\s+ip\s+address\b",
     "block", "resets or shuts BGP sessions, removes routing processes or neighbours, or announces a default route"),
    (r"^\s*conf(?:igure)?(?:\s+t(?:erminal)?)?\s*$|^\s*clear\s|^\s*(?:write|copy)\s",
     "ask", "changes the router's configuration or clears its state"),
)  # fmt: skip
_BIRD = _console(
    (r"^\s*(?:down\b|disable\s+(?:all|\*|\"\*\")|restart\s+(?:all|\*|\"\*\"))",
     "block", "shuts the routing daemon down or disables or restarts every protocol"),
    (r"^\s*(?:disable|enable|restart|reload|configure|graceful)\b",
     "ask", "reconfigures the routing daemon or restarts a protocol"),
)  # fmt: skip
_GOBGP = _console(
    (r"\brib\s+(?:add|del)\s+(?:0\.0\.0\.0/0|::/0)|^\s*neighbor\s+\S+\s+(?:shutdown|disable)\b|\bdel\s+all\b",
     "block", "announces or withdraws a default route, or shuts a BGP session"),
    (r"\b(?:add|del|delete|reset|softreset|enable|disable)\b", "ask", "changes BGP routes or sessions"),
)  # fmt: skip
_ASTERISK = _console(
    (r"\bcore\s+(?:stop|restart)\s+(?:now|gracefully|when\s+convenient)\b|\bhangup\s+(?:request\s+)?all\b"
     r"|\bdatabase\s+(?:deltree|del)\b|\bdialplan\s+remove\b|\bmodule\s+unload\b|\b(?:pj)?sip\s+(?:unregister|delete)\b",
     "block", "stops the PBX, hangs up every call, deletes its database or dialplan, or unloads a channel driver"),
    (r"\bdialplan\s+add\b|\breload\b|\bdatabase\s+put\b|\bmodule\s+load\b",
     "ask", "changes the PBX's configuration"),
    (r"\boriginate\b", "loop", "places calls"),
)  # fmt: skip
_FREESWITCH = _console(
    (r"^\s*(?:hupall|fsctl\s+shutdown|shutdown)\b|\bsofia\s+profile\s+\S+\s+(?:killgw|stop)\b",
     "block", "stops the switch, hangs up every call or removes a carrier gateway"),
    (r"\breloadxml\b|\bsofia\s+profile\s+\S+\s+restart\b|\buuid_kill\b",
     "ask", "ends a call or reloads the switch's configuration"),
    (r"\boriginate\b", "loop", "places calls"),
)  # fmt: skip
_KAMAILIO = _console(
    (r"^\s*(?:ul\.(?:flush|rm)|htable\.(?:flush|delete)|core\.(?:kill|shutdown)|dispatcher\.set_state\s+i)\b",
     "block", "drops every registration, empties tables or stops the SIP proxy"),
)  # fmt: skip
_PBS = _console(
    (r"^\s*s(?:et)?\s+s(?:erver)?\s+scheduling\s*=\s*(?:false|f|0)\b|^\s*d(?:elete)?\s+(?:q(?:ueue)?|n(?:ode)?)\b"
     r"|\b(?:managers|operators)\s*\+?=|\bacl_host_enable\s*=\s*(?:false|f|0)\b",
     "block", "stops scheduling, deletes queues or nodes, or makes someone a scheduler manager"),
    (r"^\s*(?:s|set|c|create|u|unset|i|import)\s", "ask", "changes the batch server's configuration"),
)  # fmt: skip
_BACULA = _console(
    (r"^\s*(?:purge|delete|prune|truncate)\b", "block", "purges or deletes backup volumes, jobs or catalog records"),
    (r"^\s*(?:cancel|disable|restore|run|update|relabel|label)\b", "ask", "runs, restores or changes backups"),
)  # fmt: skip
# What an admin socket is told: HAProxy's runtime API and Kea's control channel.
_SOCKET = _console(
    (r"^\s*(?:shutdown\s+(?:frontend|sessions?)\b|disable\s+frontend\b|set\s+maxconn\s+(?:global|frontend\s+\S+)\s+0\b"
     r"|clear\s+table\b|del\s+(?:server|acl|map)\b)"
     r"|\"command\"\s*:\s*\"(?:lease[46]-wipe|lease[46]-del|subnet[46]-del|config-set|shutdown)\"",
     "block", "shuts a frontend or its sessions, removes servers, or wipes a DHCP server's leases or config"),
)  # fmt: skip
_SOCKET_REPEATED = LazyRe2(
    r"(?im)^\s*(?:disable\s+server|set\s+server\s+\S+\s+state\s+(?:maint|drain)|set\s+weight\s+\S+\s+0\b)"
)


def _option_texts(*options: str) -> Callable[[CommandView], str]:
    return lambda view: "\n".join(view.values(*options))


def _operand_text(view: CommandView) -> str:
    return " ".join(w.text for w in view.operands)


_CONSOLES: dict[str, tuple[Callable[[CommandView], str], Console]] = {
    "vtysh": (_option_texts("-c", "--command"), _ROUTING),
    "birdc": (_operand_text, _BIRD),
    "birdc6": (_operand_text, _BIRD),
    "gobgp": (_operand_text, _GOBGP),
    "asterisk": (_option_texts("-x", "-rx"), _ASTERISK),
    "fs_cli": (_option_texts("-x", "--execute"), _FREESWITCH),
    "kamcmd": (_operand_text, _KAMAILIO),
    "qmgr": (_option_texts("-c"), _PBS),
    "bconsole": (fed_text, _BACULA),
}
CONSOLE_NAMES = tuple(_CONSOLES)
_SOCKET_CLIENTS = ("socat", "nc", "ncat", "netcat")


def _console_findings(view: CommandView, text: str, console: Console) -> Iterator[ShellFinding]:
    looped = view.exec.loop != ""
    for pattern, verdict, why in console:
        if verdict == "loop" and not looped:  # one call is everyday work; a loop of them is a campaign
            continue
        if pattern.search(text):
            if looped and verdict != "block":
                verdict, why = "block", f"{why}, over and over in a loop"
            severity = "critical" if verdict == "block" else "high"
            yield finding("infra", "service-console", verdict, severity, f"{view.name} {why}")
            return


def _socket_findings(view: CommandView) -> Iterator[ShellFinding]:
    text = fed_text(view)
    if not text:
        return
    yield from _console_findings(view, text, _SOCKET)
    if view.exec.loop and _SOCKET_REPEATED.search(text):
        yield finding("infra", "service-console", "block", "critical",
                      f"{view.name} takes server after server out of a load balancer in a loop")  # fmt: skip


# -- admin HTTP APIs ----------------------------------------------------------------------------------------
_DATA_FLAGS = ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--json")
_HTTP_BLOCK = LazyRe2(
    r"(?i)^[^/]*/(?:quitquitquit|healthcheck/fail|drain_listeners|-/quit)(?:[/?]|$)|^[^/]*:2019/stop\b"
    r"|^[^/]*/api/(?:orgs|admin/users|users)/\d+/?(?:\?|$)"
)
_HTTP_CONFIG = LazyRe2(r"(?i)^[^/]*:2019/(?:load|config|id)\b")
_ADMIN_GRANT = LazyRe2(
    r"(?i)\"isGrafanaAdmin\"\s*:\s*true|\"role\"\s*:\s*\"Admin\"|\"(?:orgRole|teamRole)\"\s*:\s*\"Admin\""
)


def _http_findings(view: CommandView) -> Iterator[ShellFinding]:
    method = (view.value("-X", "--request") or "").strip("'\"").upper()
    data = " ".join(view.values(*_DATA_FLAGS))
    if not method:
        method = "POST" if data else "GET"
    if method == "GET":
        return
    for word in view.args:
        text = word.text
        if "/" not in text or text.startswith("-"):
            continue
        rest = text.split("://", 1)[-1]
        blocks = _HTTP_BLOCK.search(rest)
        if blocks and (method == "DELETE" or "/api/" not in rest):
            yield finding("infra", "service-admin-api", "block", "critical",
                          f"{view.name} {method} stops a service, fails its health checks or deletes an "
                          "organization or user through its admin API")  # fmt: skip
            return
        if _HTTP_CONFIG.search(rest):
            verdict = "block" if method == "DELETE" else "ask"
            yield finding("infra", "service-admin-api", verdict, "critical" if verdict == "block" else "high",
                          f"{view.name} {method} replaces or deletes a web server's live configuration")  # fmt: skip
            return
    if data and _ADMIN_GRANT.search(data):
        yield finding("security", "service-admin-grant", "block", "critical",
                      f"{view.name} {method} makes an account an administrator through an admin API")  # fmt: skip


# -- one command for every guest, process or message ---------------------------------------------------------
_FANOUT_NAMES = frozenset({"virsh", "qm", "pct", "lxc", "incus", "govc", "vim-cmd", "openstack", "nova", "xe",
                           "nomad", "multipass", "vagrant", "pvesh", "rbd", "conda", "mamba", "micromamba"})  # fmt: skip
_STOP_WORD = LazyRe2(r"(?:^|[/.:-])(?:stop|shutdown|destroy|delete|rm|remove|undefine|off|kill|reset|reboot|"
                        r"suspend|uninstall|purge|unregister|power\.off)$")  # fmt: skip
_VARIABLE = LazyRe2(r"^\$\{?\w+\}?$")
_GPU_LISTING = LazyRe2(r"--query-compute-apps|/dev/(?:nvidia|dri/|kfd|accel)")


def _stops_something(view: CommandView) -> bool:
    return any(_STOP_WORD.search(w.text) for w in view.operands[:2])


def _listing_fed(exec_: Exec, names: frozenset[str]) -> bool:
    return exec_.dynamic_operands and any(
        e.words and e.words[0].text in names for e in upstream_closure(exec_)
    )


def _fanout_findings(view: CommandView) -> Iterator[ShellFinding]:
    if not _stops_something(view):
        return
    looped = view.exec.loop == "for" and any(_VARIABLE.match(w.text) for w in view.operands[1:])
    if looped or _listing_fed(view.exec, frozenset({view.name})):
        yield finding("infra", "every-guest-stop", "block", "critical",
                      f"{view.name} {view.operands[0].text} stops or deletes guest after guest (each item of a loop or a listing)")  # fmt: skip


def _kill_findings(view: CommandView) -> Iterator[ShellFinding]:
    if not view.exec.dynamic_operands:
        return
    for upstream in upstream_closure(view.exec):
        if upstream.words and any(_GPU_LISTING.search(w.text) for w in upstream.words[1:]):
            yield finding("system", "gpu-process-kill", "block", "critical",
                          f"{view.name} kills every process using the GPUs (other users' jobs)")  # fmt: skip
            return


_UNFILTERED_QUEUE = frozenset({"-i", "-c", "-o", "0", "-z", "-x", "-b", "-bp", "-bpc"})


def _mail_queue_findings(view: CommandView) -> Iterator[ShellFinding]:
    if not view.exec.dynamic_operands or not any(f.startswith("-M") for f in view.flags):
        return
    listings = [
        e for e in upstream_closure(view.exec) if e.words and e.words[0].text in ("exiqgrep", "exim", "mailq")
    ]
    if listings and all(set(e.argv[1:]) <= _UNFILTERED_QUEUE for e in listings):
        yield finding("infra", "mail-queue-all", "block", "critical",
                      f"{view.name} deletes, bounces or freezes every queued message")  # fmt: skip


def _pip_findings(view: CommandView) -> Iterator[ShellFinding]:
    if not view.operands or view.operands[0].text != "uninstall":
        return
    feeds = [sub for w in view.args for sub in w.subs]
    if view.exec.dynamic_operands:
        feeds += upstream_closure(view.exec)
    freezes = [
        e for e in feeds if e.words and e.words[0].text.endswith(("pip", "pip3")) and "freeze" in e.argv
    ]
    if freezes and any(_shared_interpreter(e) for e in (view.exec, *freezes)):
        yield finding("system", "uninstall-everything", "block", "critical",
                      f"{view.name} uninstalls every package of a system or shared environment")  # fmt: skip


_SHARED_PREFIXES = ("/usr/", "/opt/", "/shared/", "/apps/", "/srv/", "/software/")


def _shared_interpreter(exec_: Exec) -> bool:
    """Run as root, by a system or shared installation's pip, or pointed at system site-packages (a project's
    own virtualenv emptied with `pip freeze | xargs pip uninstall` is everyday work)."""
    argv = exec_.argv
    return (
        "sudo" in exec_.via
        or argv[0].startswith(_SHARED_PREFIXES)
        or any(
            a.startswith(_SHARED_PREFIXES) for a in argv[1:] if "site-packages" in a or "dist-packages" in a
        )
    )


_KEEP_COUNTS = ("--keep-last", "-l", "--keep-hourly", "-H", "--keep-daily", "-d", "--keep-weekly", "-w",
                "--keep-monthly", "-m", "--keep-yearly", "-y", "--keep-secondly", "--keep-minutely",
                "--keep-latest", "--keep-annual")  # fmt: skip
_KEEP_WITHIN = LazyRe2(r"^(\d+)([hd])$")


def _a_day_or_less(duration: str) -> bool:
    found = _KEEP_WITHIN.match(duration)
    return found is not None and int(found.group(1)) <= (24 if found.group(2) == "h" else 1)


def _retention_findings(view: CommandView) -> Iterator[ShellFinding]:
    """restic/borg forget and prune, kopia policy: a retention that keeps one snapshot (or a day) or less."""
    head = " ".join(w.text for w in view.operands[:2])
    if view.name in ("restic", "borg", "borgbackup"):
        verbs = [w.text for w in view.operands[:3] if w.text in ("forget", "prune")]
        if not verbs or view.has("--dry-run", "-n"):
            return
        least = 2
    elif view.name == "kopia" and head == "policy set":
        least = 5  # kopia keeps what a command doesn't name: only a policy that names nearly all keeps is cut
    else:
        return
    counts = [int(v) for v in view.values(*_KEEP_COUNTS) if v.isdigit()]
    within = view.values("--keep-within")
    if view.has("--keep-tag") or not all(_a_day_or_less(v) for v in within):
        return
    if len(counts) + len(within) >= least - 1 and sum(counts) <= 1:
        yield finding("data_loss", "backup-retention-cut", "block", "critical",
                      f"{view.name} keeps a single snapshot or a day of backups (the rest is deleted)")  # fmt: skip


_MESH_OFF = LazyRe2(r"(?is)kind:\s*PeerAuthentication\b.*\bmode:\s*[\"']?DISABLE\b")
# A namespace or workload labelled or annotated out of the mesh: injection removed or disabled.
_MESH_LABEL_OFF = LazyRe2(
    r"^(?:istio-injection-|istio-injection=disabled|istio\.io/rev-|sidecar\.istio\.io/inject=false|"
    r"linkerd\.io/inject=disabled|linkerd\.io/inject-)$"
)


def _mesh_findings(view: CommandView) -> Iterator[ShellFinding]:
    operands = view.operands
    if operands and operands[0].text in ("label", "annotate"):
        if any(_MESH_LABEL_OFF.match(w.text) for w in operands[1:]):
            yield finding("security", "mesh-protection-off", "block", "critical",
                          f"{view.name} {operands[0].text} takes workloads out of the service mesh (their "
                          "traffic loses mutual TLS and policy)")  # fmt: skip
        return
    text = view.exec.stdin_text
    if text and _MESH_OFF.search(text):
        yield finding("security", "mesh-protection-off", "block", "critical",
                      f"{view.name} switches the service mesh's mutual TLS off")  # fmt: skip


def check_infra(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    if name in _CONSOLES:
        extract, console = _CONSOLES[name]
        text = extract(view)
        if text:
            yield from _console_findings(view, text, console)
        return
    if name in _SOCKET_CLIENTS:
        yield from _socket_findings(view)
    elif name in ("curl", "wget", "http", "https", "xh"):
        yield from _http_findings(view)
    elif name == "kill":
        yield from _kill_findings(view)
    elif name in ("exim", "exim4"):
        yield from _mail_queue_findings(view)
    elif name in ("pip", "pip3"):
        yield from _pip_findings(view)
    elif name in ("restic", "borg", "borgbackup", "kopia"):
        yield from _retention_findings(view)
    elif name in ("kubectl", "oc"):
        yield from _mesh_findings(view)
    if name in _FANOUT_NAMES:
        yield from _fanout_findings(view)
    if name in _TABLE_NAME_SET:  # the table is read only for the programs it names (not every curl or kill)
        yield from first_match_findings(_by_name(), view, ctx)


RULE_NAMES = tuple(
    dict.fromkeys((*TABLE_NAMES, *CONSOLE_NAMES, *_SOCKET_CLIENTS, "kubectl", "oc", "curl", "wget", "http", "https", "xh", "kill",
                   "exim", "exim4", "pip", "pip3", "borg", "borgbackup", "kopia", *_FANOUT_NAMES))
)  # fmt: skip
