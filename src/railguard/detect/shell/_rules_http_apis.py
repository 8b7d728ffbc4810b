"""Consequential effects reached through GENERIC HTTP/RPC clients instead of a vendor CLI: curl, wget,
httpie/xh/curlie, PowerShell's Invoke-RestMethod, `gh api`/`glab api`, `az rest`, `kubectl --raw`, raw HTTP
typed into nc/socat/openssl or a `/dev/tcp` descriptor, grpcurl/grpc_cli and websocat/wscat.

Each command is first read as a request (method, endpoint, body), then judged by what the request does,
whatever service receives it: the endpoint's shape and body (`http_api_effects.yaml`), SQL that drops or
empties tables, GraphQL mutations and JSON-RPC/gRPC methods named by a deleting verb, DELETEs of a data
store or of a service's accounts, and POSTs whose URL action deletes, stops or disables. The asks for any
other change of a remote service stay `_rules_api`'s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

import re2

from railguard.detect._budget import off_the_clock
from railguard.detect.shell._catalogue import catalogue, tokens
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_admin import SOCKET_CLIENTS, fed_text
from railguard.detect.shell._rules_net import destinations
from railguard.detect.shell._rules_vcs import positionals
from railguard.detect.shell._view import CommandView, Ctx, finding

_CURL_LIKE = ("curl", "wget", "curlie")
_HTTPIE_LIKE = ("http", "https", "xh", "xhs")
_POWERSHELL = (
    "Invoke-RestMethod",
    "Invoke-WebRequest",
    "irm",
    "iwr",
    "invoke-restmethod",
    "invoke-webrequest",
)
_WEBSOCKET = ("websocat", "wscat")
_GRPC = ("grpcurl", "grpc_cli")
_ECHOES = ("printf", "echo")
NAMES = (*_CURL_LIKE, *_HTTPIE_LIKE, *_POWERSHELL, *_WEBSOCKET, *_GRPC, *SOCKET_CLIENTS, *_ECHOES,
         "gh", "glab", "az", "kubectl", "oc")  # fmt: skip

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CURL_DATA = ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--data-ascii", "-F", "--form",
              "--form-string", "--json", "--post-data", "--body-data", "--url-query")  # fmt: skip
_GH_FIELDS = ("-f", "-F", "--field", "--raw-field")
_LOOPBACK = re.compile(r"^(?:localhost|127(?:\.\d+){3}|\[::1\]|::1|0\.0\.0\.0|[\w.-]+\.localhost|)$")
_REQUEST_LINE = re2.compile(r"(?m)^\s*(GET|HEAD|POST|PUT|PATCH|DELETE) +(\S+) +HTTP/\d")
_SQL_DESTROY = re2.compile(
    r"(?im)\b(?:drop\s+(?:table|database|schema|index|view|collection|measurement|retention\s+policy|keyspace|"
    r"user|role|stream|materialized\s+view|dictionary|series)\b|truncate\s+(?:table\s+)?[\w.\"`]|"
    r"delete\s+from\s+[\w.\"`]+\s*(?:;|$|[\"'}\\])|system\s+(?:shutdown|kill)\b|"
    r"alter\s+table\s+\S+\s+(?:drop|delete)\b)"
)
_GRAPHQL_MUTATION = re2.compile(r"\bmutation\b[^{]*\{(.*)")
_REVERSIBLE = frozenset({"archive", "unarchive"})  # `issueArchive`: undone with one more mutation
_PUBLIC_VISIBILITY = re2.compile(r"(?i)\bvisibility\s*:\s*\\?\"?public\b")
_IDENTIFIER = re2.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RPC_METHOD = re2.compile(r"(?i)\"method\"\s*:\s*\"([\w.:/-]+)\"|(?:^|\s)method=([\w.:/-]+)")
_RPC_MARK = re2.compile(r"(?i)\"(?:jsonrpc|params)\"|(?:^|\s)(?:jsonrpc=|params:=)")
_PRESIGNED = re2.compile(r"(?i)[?&](?:x-amz-signature|x-goog-signature|signature|sig)=")
_DELETE_FLAGS = re2.compile(r"(?i)(?:^|[?&])(?:recurse|recursive|purge|force|permanent|hard_delete|cascade|v)"
                            r"(?:=(?:true|1|yes))?(?:&|$)")  # fmt: skip
_FANNED_OUT = re2.compile(r"\$(?:XARGS|PARALLEL)\b")  # an item of xargs/parallel, as `_unwrap` writes it
_EMPTY_UPLOAD = ("@/dev/null", "")
_ID_LIKE = re.compile(r"[0-9$%{]|^[A-Za-z]\d")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    host: str  # "" for a path the client resolves itself (`gh api repos/x`, a unix socket)
    port: str
    path: str  # "/path?query", decoded
    body: str
    local: bool  # loopback TCP (a dev server, or a store on this machine)
    socket: bool  # a unix socket or a control-plane client (`kubectl --raw`): never a dev server
    looped: bool
    daemon: bool = False  # a local daemon's unix socket (docker, caddy, firecracker): its control API


@dataclass(frozen=True, slots=True)
class _Entry:
    path: Any
    body: Any
    methods: frozenset[str]
    rule: str
    category: str
    verdict: str
    why: str
    remote_only: bool = False  # not for a dev server on this machine (its own test accounts and settings)


@dataclass(frozen=True, slots=True)
class _Table:
    endpoints: tuple[_Entry, ...]
    bodies: tuple[_Entry, ...]
    nouns: dict[str, str]  # singular noun -> anywhere | remote | minor
    service_ports: frozenset[str]
    spared: frozenset[str]
    stops: frozenset[str]
    strong: frozenset[str]
    rpc_read: Any
    rpc_block: Any
    any_endpoint: Any  # every endpoint path in one pattern: most requests match none, tested once


def _entries(raw: list[dict[str, Any]], where: str) -> tuple[_Entry, ...]:
    out = []
    for i, item in enumerate(raw):
        if item.get("verdict") not in ("ask", "block"):
            raise ValueError(f"http_api_effects.yaml: {where}[{i}].verdict must be ask or block")
        path, body = item.get("path"), item.get("body")
        out.append(
            _Entry(
                path=re2.compile("(?i)" + path) if path else None,
                body=re2.compile("(?im)" + body) if body else None,
                methods=frozenset(m.upper() for m in item.get("methods", [])),
                rule=str(item["rule"]),
                category=str(item["category"]),
                verdict=item["verdict"],
                why=str(item["why"]),
                remote_only=bool(item.get("remote_only", False)),
            )
        )
    return tuple(out)


def parse_table(data: dict[str, Any]) -> _Table:
    """Validate the table: a typo in the data fails loudly at load, not silently at check time."""
    endpoints = _entries(data.get("endpoints") or [], "endpoints")
    if any(e.path is None for e in endpoints):
        raise ValueError("http_api_effects.yaml: every endpoint needs a path")
    bodies = _entries(data.get("bodies") or [], "bodies")
    nouns = {noun: kind for kind in ("minor", "remote", "anywhere") for noun in data["nouns"][kind]}
    rpc = data["rpc"]
    return _Table(
        endpoints=endpoints,
        bodies=bodies,
        nouns=nouns,
        service_ports=frozenset(str(p) for p in data["service_ports"]),
        spared=frozenset(data["spared_verbs"]),
        stops=frozenset(data["stop_verbs"]),
        strong=frozenset(data["strong_verbs"]),
        rpc_read=re2.compile("(?i)^(?:" + "|".join(rpc["read"]) + ")$"),
        rpc_block=re2.compile("(?i)^(?:" + "|".join(rpc["block"]) + ")$"),
        any_endpoint=re2.compile("(?i)" + "|".join(f"(?:{e.path.pattern[4:]})" for e in endpoints)),
    )


@lru_cache(maxsize=1)
def table() -> _Table:
    # Read on the first HTTP client command, inside an evaluation: off the deadline's clock.
    return off_the_clock(_read_table)


def _read_table() -> _Table:
    from railguard._parsed_cache import package_yaml

    return parse_table(package_yaml("railguard.detect.shell", "http_api_effects.yaml", "shell-http-apis"))


# -- reading a command as requests --------------------------------------------------------------------------
def _split_target(target: str) -> tuple[str, str, str]:
    """(host, port, "/path?query") of a URL with or without its scheme, or of a bare path."""
    text = target.split("://", 1)[1] if "://" in target else target
    if text.startswith("/"):
        return "", "", text
    authority, slash, rest = text.partition("/")
    hostport = authority.rpartition("@")[2]
    if ":" in hostport or "." in hostport or hostport in ("localhost", ""):
        host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
        return host.lower(), port, "/" + rest if slash else "/"
    return "", "", "/" + text  # `repos/acme/api`: an endpoint relative to the client's own host


def _request(
    method: str, target: str, body: str, view: CommandView, *, socket: bool = False, daemon: bool = False
) -> Request:
    host, port, path = _split_target(target)
    try:
        path = unquote_plus(path)
    except ValueError:
        pass
    local = not (socket or daemon) and bool(_LOOPBACK.match(host)) and (bool(port) or host != "")
    looped = bool(view.exec.loop) or bool(_FANNED_OUT.search(target))
    return Request(method, host, port, path, body, local, socket or daemon, looped, daemon)


def _option(view: CommandView, *names: str) -> str | None:
    """An option's value, its name matched case-insensitively (PowerShell's `-Method`, `-method`)."""
    wanted = {n.lower() for n in names}
    texts = view.arg_texts
    for i, text in enumerate(texts[:-1]):
        if text.lower() in wanted:
            return texts[i + 1]
    return None


_CURL_SHORT = frozenset("XdFTG")  # in a getopt cluster: `curl -sX DELETE`, `-sd @x`
_CURL_CHANGING = ("-X", "--request", "--method", "-d", "--data", "-F", "--form", "--json", "-T", "--upload-file",
                  "--post", "--body", "--url-query", "-G", "--get", "--unix-socket", "--abstract-unix-socket")  # fmt: skip


def _plain_get(view: CommandView, operands: list[str]) -> bool:
    """`curl -fsSL https://x/y -o y`: no method, body or query, not looped, no admin endpoint named (most
    everyday fetches): nothing to judge, and not worth reading as a request."""
    if view.exec.loop or any(
        text.startswith(_CURL_CHANGING) or (text[:1] == "-" and text[1:2] != "-" and _CURL_SHORT & set(text))
        for text in view.arg_texts
    ):
        return False
    endpoints = table().any_endpoint
    return not any("?" in text or endpoints.search(text) for text in operands)


def _curl_requests(view: CommandView) -> list[Request]:
    operands = [w.text for w in view.operands]
    if _plain_get(view, operands):
        return []
    given = view.values("-X", "--request", "--method")  # getopt clusters too: `curl -sX DELETE`
    method = (given[-1] if given else "").strip("'\"").upper()
    if view.name == "curlie" and operands and operands[0].upper() in _METHODS:
        method, operands = operands[0].upper(), operands[1:]
    body_parts = view.values(*_CURL_DATA)
    uploads = view.values("-T", "--upload-file", "--body-file", "--post-file")
    if not method:
        method = "PUT" if uploads else "POST" if body_parts else "GET"
    body = "\n".join(body_parts)
    if "@-" in body_parts and view.exec.stdin_text:
        body += "\n" + view.exec.stdin_text
    if any(u in _EMPTY_UPLOAD for u in uploads) or "@/dev/null" in body_parts:
        body += "\n@/dev/null"
    socket = view.has("--unix-socket", "--abstract-unix-socket")
    hosts = destinations(view)  # memoized on the view: the network rules asked first
    targets = [t for t in operands if "/" in t or t in hosts]
    return [_request(method, t, body, view, daemon=socket) for t in targets[:4]]


_HTTPIE_VALUED = frozenset({"-a", "--auth", "-A", "--auth-type", "-o", "--output", "--session", "--session-read-only",
                            "--verify", "--cert", "--cert-key", "--proxy", "-p", "--print", "--pretty", "-s",
                            "--style", "--timeout", "--max-redirects", "--format-options"})  # fmt: skip


def _httpie_requests(view: CommandView) -> list[Request]:
    operands = positionals(view.arg_texts, _HTTPIE_VALUED)
    method = ""
    if operands and operands[0].upper() in _METHODS:
        method, operands = operands[0].upper(), operands[1:]
    if not operands:
        return []
    items = operands[1:]
    body = "\n".join(items)
    if not method:
        method = "POST" if any(re.match(r"^[\w.\[\]-]+(?::=|=|@)", i) for i in items) else "GET"
    target = operands[0]
    if target.startswith(":"):  # `http :8001/api`: localhost
        target = "localhost" + target
    return [_request(method, target, body, view)]


def _powershell_requests(view: CommandView) -> list[Request]:
    method = (_option(view, "-Method") or "GET").upper()
    target = _option(view, "-Uri") or next((w.text for w in view.operands if "://" in w.text), "")
    body = "\n".join(b for b in (_option(view, "-Body"), _option(view, "-InFile")) if b)
    return [_request(method, target, body, view)] if target else []


def _gh_requests(view: CommandView) -> list[Request]:
    operands = [w.text for w in view.operands]
    if operands[:1] != ["api"]:
        return []
    fields = view.values(*_GH_FIELDS)
    methods = view.values("-X", "--method")
    method = methods[-1].upper() if methods else ("POST" if fields or view.has("--input") else "GET")
    endpoint = next((t for t in operands[1:] if t not in fields and t not in methods), "")
    return [_request(method, endpoint.lstrip("/"), "\n".join(fields), view, socket=True)] if endpoint else []


def _az_requests(view: CommandView) -> list[Request]:
    if [w.text for w in view.operands[:1]] != ["rest"]:
        return []
    body = view.value("--body", "-b") or ""
    method = (view.value("--method", "-m") or ("POST" if body else "GET")).upper()
    url = view.value("--url", "--uri", "-u") or ""
    return [_request(method, url, body, view)] if url else []


_KUBE_RAW_VERBS = {"get": "GET", "delete": "DELETE", "create": "POST", "replace": "PUT", "apply": "PATCH"}


def _kube_requests(view: CommandView) -> list[Request]:
    if not any(text.startswith("--raw") for text in view.arg_texts):
        return []
    raw = view.value("--raw")
    verb = view.operands[0].text if view.operands else ""
    if not raw or verb not in _KUBE_RAW_VERBS:
        return []
    return [_request(_KUBE_RAW_VERBS[verb], raw, "", view, socket=True)]


def _raw_http(text: str, view: CommandView, host: str, daemon: bool) -> list[Request]:
    text = text.replace("\\r", "").replace("\\n", "\n")
    out = []
    for match in _REQUEST_LINE.finditer(text):
        body = text[match.end() :].partition("\n\n")[2]
        out.append(
            _request(match.group(1), host + match.group(2), body, view, socket=not host, daemon=daemon)
        )
    return out[:4]


def _socket_requests(view: CommandView) -> list[Request]:
    text = fed_text(view)
    if "HTTP/" not in text:
        return []
    socket = any("UNIX" in w.text.upper() for w in view.args)
    operands = [w.text for w in view.operands]
    host = ""
    if not socket:
        named = view.value("-connect") or next((o.split(":", 1)[-1] for o in operands if ":" in o), "")
        host = named or (operands[0] if operands else "")
        if view.name != "socat" and len(operands) > 1 and operands[1].isdigit():
            host = f"{operands[0]}:{operands[1]}"
    return _raw_http(text, view, host, socket)


def _echoed_requests(view: CommandView) -> list[Request]:
    """`printf 'DELETE /x HTTP/1.1...' >&3` after `exec 3<>/dev/tcp/host/port`: a request written to a socket."""
    to_descriptor = any(
        r.op in (">&", ">") and r.target is not None and r.target.text.isdigit() and int(r.target.text) > 2
        for r in view.exec.redirects
    )
    if not to_descriptor:
        return []
    return _raw_http("\n".join(w.text for w in view.args), view, "", False)


def requests_of(view: CommandView) -> list[Request]:
    name = view.name
    if name in _CURL_LIKE:
        return _curl_requests(view)
    if name in _HTTPIE_LIKE:
        return _httpie_requests(view)
    if name in _POWERSHELL:
        return _powershell_requests(view)
    if name in ("gh", "glab"):
        return _gh_requests(view)
    if name == "az":
        return _az_requests(view)
    if name in ("kubectl", "oc"):
        return _kube_requests(view)
    if name in SOCKET_CLIENTS:
        return _socket_requests(view)
    if name in _ECHOES:
        return _echoed_requests(view)
    return []


# -- judging one request ------------------------------------------------------------------------------------
Judged = tuple[str, str, str, str]  # category, rule, verdict, why


def _segments(path: str) -> list[str]:
    return [s for s in path.split("?", 1)[0].split("/") if s]


def _singulars(segment: str) -> list[str]:
    word = segment.lower().removesuffix(".json").lstrip("_")
    if word.endswith("ies"):
        return [word, word[:-3] + "y"]
    return (
        [word, word[:-1], word[:-2]]
        if word.endswith("es")
        else [word, word[:-1]]
        if word.endswith("s")
        else [word]
    )


def _noun_kind(segment: str, nouns: dict[str, str]) -> tuple[str, str]:
    for form in _singulars(segment):
        kind = nouns.get(form)
        if kind:
            return form, kind
    return "", ""


def _last_noun(path: str, nouns: dict[str, str], nearest: int = 0) -> tuple[str, str]:
    """The last resource kind the path names: `/queues/vhost/orders` deletes a queue (named orders), a word
    right after a kind being that resource's name; query keys (`?bucket=x`) count before the path. With
    `nearest`, only the last few segments count: the deleted thing's kind sits next to the end (`/kind/name`,
    `/repos/owner/name`), one further up is a parent's (`/user/starred/owner/name` deletes a star)."""
    segments = _segments(path)
    if nearest:
        segments = segments[-nearest:]
    keys = [p.partition("=")[0] for p in path.partition("?")[2].split("&") if p]
    parts = [*keys, *(part for segment in segments for part in segment.split("."))]  # `/admin.users.remove`
    for i in range(len(parts) - 1, -1, -1):
        found = _noun_kind(parts[i], nouns)
        if found[1] and not (i > len(keys) and _noun_kind(parts[i - 1], nouns)[1]):
            return found
    return "", ""


def _judge_delete(req: Request, t: _Table) -> Judged | None:
    query = req.path.partition("?")[2]
    segments = _segments(req.path)
    if _PRESIGNED.search(req.path):
        return "data_loss", "presigned-delete", "block", "deletes stored objects through a signed URL"
    if _DELETE_FLAGS.search(query) or any(s in ("*", "_all") or s.endswith("*") for s in segments):
        return (
            "data_loss",
            "http-delete-everything",
            "block",
            "deletes recursively, by wildcard or with purge/force",
        )
    if req.looped and not (
        req.local and req.port not in t.service_ports
    ):  # a dev server's rows: the plain ask
        return "data_loss", "http-delete-loop", "block", "deletes resource after resource in a loop"
    noun, kind = _last_noun(req.path, t.nouns, nearest=3)
    if kind == "minor":
        return None
    if kind == "anywhere" or (kind == "remote" and not req.local):
        return "data_loss", "http-delete-resource", "block", f"deletes a {noun} through the service's API"
    if (
        req.port in t.service_ports and len(segments) == 1
    ):  # `/orders` on a store's port: a database, an index
        return (
            "data_loss",
            "http-delete-store",
            "block",
            "deletes a whole database, index or bucket of a data store",
        )
    return None


def _names_a_kind(req: Request, t: _Table) -> bool:
    return _last_noun(req.path, t.nouns)[1] in ("anywhere", "remote")


def _judge_action(req: Request, t: _Table) -> Judged | None:
    verbs = catalogue().verbs
    words = [*_segments(req.path)]
    words += [
        v
        for k, _, v in (p.partition("=") for p in req.path.partition("?")[2].split("&"))
        if k.lower() == "action"
    ]
    if req.local:
        return None  # a server on this machine (a dev server's own routes): the plain asks judge it
    for word in words:
        if _ID_LIKE.search(word) and "_" not in word:
            continue
        parts = tokens(word)
        if any(t.nouns.get(p) == "minor" or t.nouns.get(p.removesuffix("s")) == "minor" for p in parts):
            continue  # `/purge_cache`, `/comments.delete`: a small thing, the plain asks judge it
        for token in parts:
            stop = token in t.stops or token.removesuffix("s") in t.stops
            destroy = verbs.get(token) == "destroy" and token not in t.spared
            if not (stop or destroy):
                continue
            if (
                req.daemon
                or token in t.strong
                or token.removesuffix("s") in t.strong
                or _names_a_kind(req, t)
            ):
                what = "stops or disables" if stop else "deletes or resets"
                return "infra", "http-api-action", "block", f"calls an API action that {what} ({word})"
    return None


def _judge_body(req: Request, t: _Table) -> Judged | None:
    query = req.path.partition("?")[2]
    if not req.body and not query:
        return None
    text = req.body + "\n" + query
    if _SQL_DESTROY.search(text):
        return "database", "sql-over-http", "block", "sends SQL that drops, empties or shuts down a database"
    dev_server = req.local and req.port not in t.service_ports
    mutation = _GRAPHQL_MUTATION.search(req.body)
    if mutation and not dev_server and _PUBLIC_VISIBILITY.search(mutation.group(1)):
        return (
            "exposure",
            "graphql-public",
            "block",
            "runs a GraphQL mutation that makes a repository or project public",
        )
    if mutation:
        verbs = catalogue().verbs
        for ident in _IDENTIFIER.findall(mutation.group(1)):
            if any(verbs.get(tok) == "destroy" and tok not in _REVERSIBLE for tok in tokens(ident)):
                verdict = "ask" if dev_server else "block"  # `deleteTodo` against the app being built asks
                return (
                    "data_loss",
                    "graphql-destroy",
                    verdict,
                    f"runs a GraphQL mutation that deletes ({ident})",
                )
    if _RPC_MARK.search(req.body):
        judged = _judge_rpc(_RPC_METHOD.search(req.body), t)
        if judged:
            return judged
    if req.method in _CHANGING:
        for entry in t.bodies:
            if entry.methods and req.method not in entry.methods:
                continue
            if not (entry.remote_only and dev_server) and entry.body.search(text):
                return entry.category, entry.rule, entry.verdict, entry.why
    return None


def _judge_rpc(match: Any, t: _Table) -> Judged | None:
    if not match:
        return None
    method = match.group(1) or match.group(2) or ""
    return judge_method(method, t)


def judge_method(method: str, t: _Table) -> Judged | None:
    """A JSON-RPC or gRPC method name: the table's reads and blocks, then the catalogue's verbs."""
    leaf = re.split(r"[/.]", method)[-1]
    if t.rpc_read.match(method) or t.rpc_read.match(leaf):
        return None
    if t.rpc_block.match(method) or t.rpc_block.match(leaf):
        return (
            "infra",
            "rpc-method",
            "block",
            f"calls {method}: moves funds, signs, unlocks keys or administers the node",
        )
    verbs = catalogue().verbs
    classes = [verbs.get(tok) for tok in tokens(leaf)]
    if "destroy" in classes or any(tok in t.stops for tok in tokens(leaf)):
        return "data_loss", "rpc-method", "block", f"calls {method}, which deletes, stops or purges"
    if "mutate" in classes:
        return "infra", "rpc-method", "ask", f"calls {method}, which changes the service's state"
    return None


_RANK = {"ask": 1, "block": 2}


def judge(req: Request) -> Judged | None:
    """The strictest of what the endpoint's shape, the body and the method with the path say."""
    t = table()
    found: list[Judged | None] = []
    for entry in t.endpoints if t.any_endpoint.search(req.path) else ():
        if entry.methods and req.method not in entry.methods:
            continue
        if entry.path.search(req.path) and (entry.body is None or entry.body.search(req.body)):
            found.append((entry.category, entry.rule, entry.verdict, entry.why))
            break
    found.append(_judge_body(req, t))
    if req.method == "DELETE":  # `/users/7/lifecycle/delete`: the path's action counts too
        found += [_judge_delete(req, t), _judge_action(req, t)]
    elif req.method in ("POST", "PUT", "PATCH"):
        found.append(_judge_write(req, t))
    judged = [j for j in found if j]
    return max(judged, key=lambda j: _RANK[j[2]]) if judged else None


def _judge_write(req: Request, t: _Table) -> Judged | None:
    if _PRESIGNED.search(req.path):
        if "@/dev/null" in req.body:
            return "data_loss", "presigned-empty", "block", "overwrites a stored object with nothing"
        return "data_loss", "presigned-write", "ask", "writes a stored object through a signed URL"
    return _judge_action(req, t)


# -- clients whose payload is not HTTP: gRPC methods, WebSocket messages -----------------------------------
def _grpc_findings(view: CommandView) -> Iterator[ShellFinding]:
    operands = [w.text for w in view.operands]
    if view.name == "grpc_cli":
        method = operands[2] if operands[:1] == ["call"] and len(operands) > 2 else ""
    else:  # `grpcurl [flags] host service/Method`: the method comes last
        method = operands[-1] if len(operands) > 1 and ":" not in operands[-1] else ""
    if (
        not method
        or "list" in operands
        or "describe" in operands
        or ("/" not in method and "." not in method)
    ):
        return
    judged = judge_method(method, table())
    if judged:
        category, rule, verdict, why = judged
        yield finding(
            category, rule, verdict, "critical" if verdict == "block" else "high", f"{view.name} {why}"
        )


def _websocket_findings(view: CommandView) -> Iterator[ShellFinding]:
    payload = "\n".join([fed_text(view), *view.values("-x", "--execute")])
    if not payload.strip():
        return
    url = next((w.text for w in view.operands if "://" in w.text), "")
    judged = _judge_body(_request("POST", url or "/", payload, view), table())
    if judged:
        category, rule, verdict, why = judged
        yield finding(
            category, rule, verdict, "critical" if verdict == "block" else "high", f"{view.name} {why}"
        )


def check_http_apis(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    if view.name in _GRPC:
        yield from _grpc_findings(view)
        return
    if view.name in _WEBSOCKET:
        yield from _websocket_findings(view)
        return
    for req in requests_of(view):
        judged = judge(req)
        if not judged and view.name in _POWERSHELL and req.method in _CHANGING and not req.local:
            # no `_rules_api` for PowerShell's clients: any change of a remote service asks, as with curl
            judged = ("infra", "api-change", "ask", "changes a remote service's state with its API")
        if judged:
            category, rule, verdict, why = judged
            severity = "critical" if verdict == "block" else "high"
            yield finding(category, rule, verdict, severity, f"{view.name} {req.method} {why}")
            return
