"""Effects on the machine and its reach: exposure (public ACLs, admin grants, open ingress, servers and
tunnels that publish a home or secret directory), network interfaces taken down, disk-filling
allocations, storage pools destroyed, services stopped.

Judgement: public or admin access, open ingress, a server on all interfaces serving home, `/` or a
secret dir, a disk filled, a pool or volume destroyed -> block; the network taken down (recoverable at
the console), a tunnel to the internet, a service stopped, a snapshot destroyed -> ask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_fs import image_files, write_target_findings
from railguard.detect.shell._syntax import Word
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

# -- exposure -----------------------------------------------------------------------------------------
_PUBLIC_ACL = re.compile(r"^(?:public-read|public-read-write|authenticated-read)$")
_EVERYONE = re.compile(
    r"(?:^|[\s:=,/])(?:allUsers|allAuthenticatedUsers|AllUsers|AuthenticatedUsers)(?:$|[\s:,])"
)
_ADMIN = re.compile(r"(?:^|[/:=\s])(?:AdministratorAccess|IAMFullAccess|roles/owner|roles/editor|"
                    r"roles/iam\.securityAdmin|cluster-admin|Owner|User Access Administrator)$")  # fmt: skip
_STAR_POLICY = re.compile(r'"Action"\s*:\s*(?:\[\s*)?"\*"')
# Images, snapshots and functions shared with every account or caller (`Group=all`, `Principal: *`,
# a function URL without auth).
_SHARED_WITH_ALL = re.compile(
    r"(?:^|[\s\[{(,])Group=all\b|--group-names all(?:\s|$)|--values-to-add all(?:\s|$)|"
    r'"Principal"\s*:\s*(?:\{\s*"AWS"\s*:\s*)?"\*"|--principal \*(?:\s|$)|--auth-type NONE(?:\s|$)'
)
_OPEN_CIDR = frozenset({"0.0.0.0/0", "::/0", "*", "Internet", "Any", "any", "0.0.0.0"})
_INGRESS_WORDS = re.compile(r"ingress|firewall|security-group|nsg|inbound|allow|open-port")
_PUBLIC_BLOCK_OFF = re.compile(r"Block\w*=false|Restrict\w*=false", re.I)
_CLOUD = frozenset({"aws", "gcloud", "gsutil", "az", "doctl", "hcloud", "linode-cli", "oci", "scw",
                    "ibmcloud", "kubectl", "oc", "openstack", "exo", "vultr-cli", "civo", "upctl"})  # fmt: skip
_ALL_INTERFACES = frozenset({"0.0.0.0", "::", "*", "[::]", ""})
_EXPOSED_ZONES = frozenset({"critical", "secret_dir", "system"})


def _texts(view: CommandView) -> list[str]:
    return [w.text for w in view.args]


def check_cloud_exposure(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Cloud and cluster CLIs: public ACLs, grants to everyone or admin roles, open ingress."""
    texts = _texts(view)
    if view.name in ("kubectl", "oc") and view.operands[:1] and view.operands[0].text == "config":
        return  # edits the local kubeconfig: a user entry named `cluster-admin` grants nothing
    joined = " ".join(texts)
    what = " ".join([view.name, *[t for t in texts if not t.startswith("-")][:3]])
    acls = view.values("--acl", "--canned-acl", "--predefined-acl", "-a")
    if (
        any(_PUBLIC_ACL.match(a) for a in acls)
        or _EVERYONE.search(joined)
        or "global/AllUsers" in joined
        or _SHARED_WITH_ALL.search(joined)
    ):
        yield finding("exposure", "public-access", "block", "critical", f"{what} makes data public")
    elif "delete-public-access-block" in texts or _PUBLIC_BLOCK_OFF.search(joined):
        yield finding(
            "exposure", "public-access", "block", "critical", f"{what} lifts the public-access block"
        )
    elif any(v in ("blob", "container") for v in view.values("--public-access")):
        yield finding("exposure", "public-access", "block", "critical", f"{what} opens a container to anyone")
    elif any(_ADMIN.search(t) for t in texts) or _STAR_POLICY.search(joined):
        yield finding("exposure", "admin-grant", "block", "critical", f"{what} grants administrator rights")
    elif _INGRESS_WORDS.search(joined.lower()) and _open_source(view, texts):
        yield finding(
            "exposure", "open-ingress", "block", "critical", f"{what} opens a port to the whole internet"
        )


def _open_source(view: CommandView, texts: list[str]) -> bool:
    values = view.values("--cidr", "--source-ranges", "--source-address-prefixes", "--source-address-prefix",
                         "--cidr-ip", "--ip-range", "--sources")  # fmt: skip
    values += [t.split("=", 1)[1] for t in texts if t.startswith(("CidrIp=", "CidrIpv6="))]
    return any(part.strip("'\"") in _OPEN_CIDR for v in values for part in v.split(","))


def check_forge_visibility(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    texts = _texts(view)
    if "edit" in texts[:2] and "public" in view.values("--visibility"):
        yield finding(
            "exposure",
            "repo-made-public",
            "block",
            "critical",
            f"{view.name} repo edit makes a repository public",
        )
    elif any("visibility=public" in t or t == "private=false" for t in texts) and "api" in texts[:1]:
        yield finding(
            "exposure", "repo-made-public", "block", "critical", f"{view.name} api makes a repository public"
        )


def _served_dir(word: Word | None, ctx: Ctx) -> str:
    if word is None:
        return classify_target(Word(ctx.cwd or "."), ctx).zone if ctx.cwd else "workspace"
    return classify_target(word, ctx).zone


def _server_finding(what: str, zone: str, public: bool) -> Iterator[ShellFinding]:
    if zone in _EXPOSED_ZONES:
        verdict = "block" if public else "ask"
        yield finding("exposure", "serve-private-dir", verdict, "critical" if public else "high",
                      f"{what} serves {'the home, / or a secret dir' if zone != 'system' else 'a system dir'}"
                      f"{' on every interface' if public else ''}")  # fmt: skip


def check_servers(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Static file servers: what directory they serve and on which interface."""
    name, texts = view.name, _texts(view)
    module_server = name in ("http", "SimpleHTTPServer") and any(v.endswith("-m") for v in view.exec.via)
    if module_server:
        directory = view.values("-d", "--directory")
        bind = view.values("-b", "--bind")
        zone = _served_dir(Word(directory[-1]) if directory else None, ctx)
        yield from _server_finding("python -m http.server", zone, not bind or bind[-1] in _ALL_INTERFACES)
    elif name == "php" and view.has("-S"):
        host = (view.value("-S") or "").rsplit(":", 1)[0]
        docroot = view.values("-t")
        zone = _served_dir(Word(docroot[-1]) if docroot else None, ctx)
        yield from _server_finding("php -S", zone, host in _ALL_INTERFACES or host == "0.0.0.0")
    elif name == "ruby" and "httpd" in texts:
        rest = [t for t in texts[texts.index("httpd") + 1 :] if not t.startswith("-") and not t.isdigit()]
        yield from _server_finding(
            "ruby -run -e httpd", _served_dir(Word(rest[0]) if rest else None, ctx), True
        )
    elif name in ("httpd", "busybox-httpd") and "busybox" in view.exec.via and view.has("-h"):
        yield from _server_finding("busybox httpd", _served_dir(Word(view.value("-h") or "."), ctx), True)
    elif name in ("http-server", "serve", "live-server", "static-server"):
        dirs = [w for w in view.operands if not w.text.startswith(("tcp:", "http"))]
        yield from _server_finding(name, _served_dir(dirs[0] if dirs else None, ctx), True)


_TUNNEL_ASK = {"cloudflared": "tunnel", "lt": "--port", "localtunnel": "--port", "bore": "local",
               "tailscale": "funnel", "zrok": "share", "localxpose": "tunnel", "pinggy": ""}  # fmt: skip


def check_tunnels(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name, texts = view.name, _texts(view)
    if name == "ngrok" and texts:
        if any(t.startswith("file://") for t in texts) or (
            texts[0] == "tcp" and any(t in ("22", "3389", "5432", "3306", "6379") for t in texts)
        ):
            yield finding(
                "exposure",
                "tunnel-private",
                "block",
                "critical",
                "ngrok publishes files or a login port to the internet",
            )
        elif texts[0] in ("http", "tcp", "tls", "start", "tunnel"):
            yield finding(
                "exposure",
                "tunnel",
                "ask",
                "high",
                f"ngrok {texts[0]} publishes a local port to the internet",
            )
    elif name in _TUNNEL_ASK and (not _TUNNEL_ASK[name] or _TUNNEL_ASK[name] in texts):
        yield finding("exposure", "tunnel", "ask", "high", f"{name} publishes a local port to the internet")
    elif (
        name in ("kubectl", "oc")
        and "port-forward" in texts
        and any(v in _ALL_INTERFACES for v in view.values("--address"))
    ):
        yield finding(
            "exposure", "port-forward-public", "ask", "high", "kubectl port-forward on every interface"
        )
    elif name == "ssh" and any(t.startswith(("0.0.0.0:", "*:", "[::]:")) for t in view.values("-R")):
        yield finding("exposure", "tunnel", "ask", "high", "ssh -R binds a remote port on every interface")
    elif name == "jupyter" and any(
        t.split("=", 1)[-1] in ("''", '""', "") for t in texts if "token=" in t.lower()
    ):
        yield finding(
            "exposure",
            "notebook-no-auth",
            "block",
            "critical",
            "jupyter without a token runs code for anyone",
        )
    elif name == "dockerd" and any(t.startswith("tcp://") for t in view.values("-H", "--host")):
        yield finding(
            "exposure", "docker-api-open", "block", "critical", "dockerd serves its API over plain TCP"
        )
    elif name in ("redis-server", "mongod", "memcached") and (
        ("--protected-mode" in texts and "no" in texts) or "--noauth" in texts
    ):
        yield finding(
            "exposure", "datastore-no-auth", "block", "critical", f"{name} accepts anyone without auth"
        )


# -- network down -------------------------------------------------------------------------------------
def check_network_down(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name, texts = view.name, [t for t in _texts(view) if t not in ("-4", "-6", "sudo")]
    lowered = [t.lower() for t in texts]
    cut = False
    if name == "ip" and lowered:
        obj, rest = lowered[0], lowered[1:]
        if (
            (
                obj in ("link", "l")
                and (("set" in rest and "down" in rest) or rest[:1] in (["del"], ["delete"]))
            )
            or (obj in ("addr", "address", "a", "route", "r", "ro") and rest[:1] == ["flush"])
            or (obj in ("route", "r", "ro") and rest[:1] in (["del"], ["delete"]) and "default" in rest)
        ):
            cut = True
    elif (name == "ifconfig" and lowered[-1:] == ["down"]) or name in ("ifdown", "if-down"):
        cut = True
    elif name == "nmcli":
        joined = " ".join(lowered)
        cut = bool(
            re.search(r"networking off|radio (?:all|wifi|wwan) off|device (?:disconnect|down|delete)", joined)
        )
    elif (name == "rfkill" and lowered[:1] == ["block"]) or (
        name == "tc" and "netem" in lowered and "loss" in lowered and "100%" in lowered
    ):
        cut = True
    elif name in ("iptables", "ip6tables") and "-P" in texts and any(t in ("DROP", "REJECT") for t in texts):
        cut = any(t in ("INPUT", "OUTPUT") for t in texts)
    elif (name == "networksetup" and lowered[-1:] == ["off"]) or (
        name == "route" and lowered[:2] == ["del", "default"]
    ):
        cut = True
    if cut:
        yield finding(
            "system", "network-down", "ask", "high", f"{name} {' '.join(texts[:4])} cuts the network"
        )


# -- disk filling -------------------------------------------------------------------------------------
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(?:i?b)?$", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "e": 1 << 60}
FILL_BYTES = 10 << 30  # 10 GiB: past any test fixture, into "fills the disk"
_ENDLESS = ("/dev/zero", "/dev/urandom", "/dev/random")


def size_bytes(text: str) -> int | None:
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _writes_file(view: CommandView) -> bool:
    return any(
        r.op in (">", ">>", ">|", "&>") and r.target is not None and not r.target.text.startswith("/dev/")
        for r in view.exec.redirects
    )


def check_disk_fill(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name, texts = view.name, _texts(view)
    size: int | None = None
    endless = False
    if name == "fallocate":
        size = size_bytes(view.value("-l", "--length") or "")
    elif name in ("xfs_mkfile", "mkfile"):
        size = max((s for t in view.operands if (s := size_bytes(t.text)) is not None), default=None)
    elif name == "dd":
        args = dict(t.split("=", 1) for t in texts if "=" in t)
        if args.get("if") in _ENDLESS and "of" in args and not args["of"].startswith("/dev/"):
            block, count = size_bytes(args.get("bs", "512")), args.get("count")
            endless = count is None
            size = block * int(count) if block is not None and count and count.isdigit() else None
    elif (name in ("cat", "pv") and any(t in _ENDLESS for t in texts) and _writes_file(view)) or (
        name == "yes" and _writes_file(view) and not view.exec.consumers
    ):
        endless = True
    elif name == "head" and any(t in _ENDLESS for t in texts) and _writes_file(view):
        size = size_bytes(view.value("-c", "--bytes") or "")
    elif name == "stress-ng" and any(t.startswith("--hdd") for t in texts):
        endless = True
    if endless or (size is not None and size >= FILL_BYTES):
        yield finding(
            "system",
            "disk-fill",
            "block",
            "high",
            f"{name} writes {'without end' if endless else 'a huge file'} and fills the disk",
        )


# -- storage pools and volumes ------------------------------------------------------------------------
_STORAGE = {("zpool", "destroy"), ("zpool", "labelclear"), ("zfs", "destroy"), ("lvremove", ""), ("vgremove", ""),
            ("pvremove", ""), ("btrfs", "subvolume"), ("cryptsetup", "luksformat"), ("cryptsetup", "erase"),
            ("nvme", "format"), ("nvme", "sanitize"), ("vgreduce", ""), ("lvreduce", "")}  # fmt: skip


def check_storage(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    texts = [t.lower() for t in _texts(view) if not t.startswith("-")]
    first = texts[0] if texts else ""
    hit = (view.name, first) in _STORAGE or ((view.name, "") in _STORAGE and bool(texts))
    if view.name == "btrfs":
        hit = texts[:2] in (["subvolume", "delete"], ["subvol", "delete"], ["subvolume", "del"])
    if view.name == "mdadm":
        hit = view.has("--zero-superblock")
    if view.name == "hdparm":
        hit = any(t.startswith(("--security-erase", "--trim-sector-ranges")) for t in _texts(view))
    if view.name == "sfdisk":
        hit = view.has("--delete")
    images = image_files(view.operands[1:2], ctx) if view.name == "cryptsetup" and hit else None
    if images:  # `cryptsetup luksFormat vault.img`: a container file, not a disk; judged as its overwrite
        for target in images:
            yield from write_target_findings(target, append=False, rule="format")
        return
    if hit and view.name == "zfs" and all("@" in t for t in texts[1:]) and texts[1:]:
        yield finding("destructive_fs", "snapshot-destroy", "ask", "high", "zfs destroy of a snapshot")
    elif hit:
        yield finding(
            "destructive_fs",
            "storage-destroy",
            "block",
            "critical",
            f"{view.name} {first} destroys stored data",
        )


# -- services -----------------------------------------------------------------------------------------
_STOP_VERBS = {"supervisorctl": ("stop", "remove", "shutdown"), "pm2": ("stop", "delete", "kill"),
               "launchctl": ("unload", "bootout", "remove", "stop"), "rc-service": ("stop",),
               "sv": ("down", "stop", "kill", "force-stop"), "pg_ctl": ("stop", "kill"),
               "pg_ctlcluster": ("stop",), "apachectl": ("stop", "graceful-stop"), "apache2ctl": ("stop",),
               "brew": ("services",), "s6-svc": ("-d",), "initctl": ("stop",)}  # fmt: skip


def check_service_stop(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    texts = _texts(view)
    verbs = _STOP_VERBS.get(view.name, ())
    if view.name == "brew":
        hit = texts[:1] == ["services"] and any(t in ("stop", "kill") for t in texts[1:2])
    elif view.name in ("nginx", "caddy", "httpd", "haproxy"):
        hit = view.value("-s") in ("stop", "quit") or texts[:1] == ["stop"]
    else:
        hit = any(t in verbs for t in texts[:3])
    if hit:
        yield finding(
            "system", "service-stop", "ask", "high", f"{view.name} {' '.join(texts[:2])} stops a service"
        )
