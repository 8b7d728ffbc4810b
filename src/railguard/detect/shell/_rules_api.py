"""Changes made through a service's HTTP API with an HTTP client (`curl -X POST https://api.x.com/...`).

A vendor CLI is judged by its verb; the same change sent with curl is judged the same way: a request
that changes something (POST, PUT, PATCH) to a host other than this machine asks when it carries
credentials (the caller acts as an account of that service: Slack, Stripe, Okta, a BMC, a registrar)
or when its URL path names a verb of the catalogue's lexicon (`/conversations.archive`,
`/Actions/ComputerSystem.Reset`, `/api/v1/delete`). Unauthenticated posts to a plain path (a form, a
webhook test) stay allowed; admin endpoints and message loops are `_rules_admin`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from railguard.detect.shell._catalogue import catalogue, tokens
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._view import CommandView, Ctx, finding

API_CLIENTS = ("curl", "wget", "http", "https", "xh")
_MUTATING = frozenset({"POST", "PUT", "PATCH"})
_DATA_FLAGS = ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F", "--form", "--json",
               "--post-data", "--post-file", "--body-data", "--body-file")  # fmt: skip
_HEADER_OPTIONS = ("-H", "--header")
_CREDENTIAL_HEADER = re.compile(
    r"(?i)^\s*(?:authorization|proxy-authorization|private-token|cookie|[\w-]*(?:token|api-?key|apikey|secret|"
    r"auth)[\w-]*)\s*:"
)
_CREDENTIAL_QUERY = re.compile(r"(?i)[?&](?:api_?key|apikey|access_token|token|auth|key|signature)=")
_LOOPBACK = re.compile(r"^(?:localhost|127(?:\.\d+){3}|\[::1\]|0\.0\.0\.0|[\w.-]+\.localhost)(?::\d+)?$")
_HTTPIE_ITEM = re.compile(r"^[\w.-]+(?::=|=|:=@|@)")  # `http POST host name=x`: request items are a body


def _method(view: CommandView) -> str:
    if view.name in ("http", "https", "xh"):
        first = view.operands[0].text.upper() if view.operands else ""
        if first in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            return first
        return "POST" if any(_HTTPIE_ITEM.match(w.text) for w in view.operands[1:]) else "GET"
    method = (view.value("-X", "--request", "--method") or "").strip("'\"").upper()
    if method:
        return method
    return "POST" if view.has(*_DATA_FLAGS) or any(w.text.startswith("--post-") for w in view.args) else "GET"


def _remote_urls(view: CommandView) -> list[tuple[str, str]]:
    """(host, path and query) of every absolute URL to a host other than this machine."""
    out: list[tuple[str, str]] = []
    for word in view.args:
        scheme, sep, rest = word.text.partition("://")
        if not sep or not scheme.isalpha():
            continue
        authority, _, path = rest.partition("/")
        host = authority.rpartition("@")[2]
        if host and not host.startswith("$") and not _LOOPBACK.match(host.lower()):
            out.append((host, "/" + path + ("@" if "@" in authority else "")))
    return out


def _credentials(view: CommandView, paths: list[str]) -> bool:
    if view.has("-u", "--user", "--oauth2-bearer", "--aws-sigv4", "--negotiate", "--ntlm", "--digest"):
        return True
    if any(_CREDENTIAL_HEADER.match(v) for v in view.values(*_HEADER_OPTIONS)):
        return True
    if any(w.text.lower().startswith(("authorization:", "x-api-key:")) for w in view.operands):  # httpie
        return True
    return any(p.endswith("@") or _CREDENTIAL_QUERY.search(p) for p in paths)


def _path_verb(path: str) -> str | None:
    """The strongest catalogue verb among the URL path's words (`/admin.users.remove` -> destroy)."""
    verbs = catalogue().verbs
    found: set[str] = set()
    for word in re.split(r"[/?&=#.,]", path.split("?", 1)[0]):
        for token in tokens(word) if word else ():
            klass = verbs.get(token) or (verbs.get(token[:-1]) if token.endswith("s") else None)
            if klass:
                found.add(klass)
    for klass in ("destroy", "mutate"):
        if klass in found:
            return klass
    return None


def check_api_change(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    method = _method(view)
    if method not in _MUTATING:
        return
    urls = _remote_urls(view)
    if not urls:
        return
    paths = [path for _, path in urls]
    verb = next((v for v in (_path_verb(p) for p in paths) if v), None)
    if verb == "destroy":
        yield finding("infra", "api-change", "ask", "high",
                      f"{view.name} {method} to {urls[0][0]} calls an API that deletes or resets")  # fmt: skip
    elif verb or _credentials(view, paths):
        yield finding("infra", "api-change", "ask", "medium",
                      f"{view.name} {method} to {urls[0][0]} changes a service's state with its API")  # fmt: skip
