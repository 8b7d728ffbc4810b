"""database: search-engine administration over HTTP (Elasticsearch, OpenSearch, Solr).

Judgement: deleting an index, a data stream, every index (`_all`, `*`) or removing an index through
`_aliases` loses the documents -> block. Settings of every index, alias removal, security users and
roles, lifecycle/retention policies, snapshot repositories and pipelines -> ask. Reads (`GET`,
`_search`, `_cat`, `_count`) and single-document writes stay with the generic HTTP rules.
"""

from __future__ import annotations

from collections.abc import Iterator

import re2

from railguard.detect.shell._model import ShellFinding

# An Elasticsearch/OpenSearch or Solr endpoint: their default ports, or a path only their APIs use.
_SEARCH_URL = re2.compile(
    r"(?i)^(?:https?://)?[^/\s]*(?::(?:920\d|9243|8983)\b|elastic|opensearch|solr)|"
    r"/_(?:all|settings|aliases|security|plugins|opendistro|ilm|ism|slm|snapshot|ingest|data_stream|cluster|"
    r"index_template|template|lifecycle)\b|/solr/"
)
# `/logs-2024`, `/_all`, `/logs-*`, `/a,b`, `/_data_stream/x`: a DELETE of the index or data stream
# itself, not of a document in it.
_INDEX_ONLY = re2.compile(r"^/(?:_all|[^/_?][^/?]*|_data_stream/[^/?]+)/?(?:\?.*)?$")
# Settings of every index at once, aliases, users and roles, lifecycle and retention, snapshots,
# pipelines, templates, Solr admin.
_ASK_PATHS = re2.compile(
    r"(?i)^/(?:(?:_all|\*|[^/?]*\*[^/?]*)/_(?:settings|mapping|close|freeze|block)\b|_aliases|"
    r"[^/?]+/_alias(?:es)?/|_security/|_plugins/_security/|_opendistro/_security/|_ilm/|"
    r"_plugins/_ism/|_opendistro/_ism/|_slm/|_snapshot/|_ingest/pipeline/|_index_template/|_template/|"
    r"_data_stream/[^/?]+/_lifecycle|solr/admin/)"
)
# Solr's admin verbs travel in the query string, even of a GET.
_SOLR_DROP = re2.compile(
    r"(?i)/solr/admin/(?:cores|collections)\b.*\baction=(?:delete|unload)\b|"
    r"/solr/admin/collections\b.*\baction=deletealias\b"
)
_SOLR_DELETE_ALL = re2.compile(
    r"(?is)<delete>\s*<query>\s*\*:\*\s*</query>|\"delete\"\s*:\s*\{\s*\"query\"\s*:\s*\"\*:\*\""
)


def _path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return "/" + rest.partition("/")[2] if "/" in rest else ""


def search_admin(name: str, method: str, urls: list[str], payload: str) -> Iterator[ShellFinding]:
    """The first search-engine admin call among `urls` sent with `method` and `payload`."""
    for url in urls:
        if not _SEARCH_URL.search(url):
            continue
        path = _path(url)
        if _SOLR_DROP.search(path) or (
            method in ("POST", "GET") and "/update" in path and _SOLR_DELETE_ALL.search(payload)
        ):
            yield ShellFinding("database", "search-index-delete", "block", "critical",
                               f"{name} deletes a Solr core, collection or every document in it")  # fmt: skip
            return
        if method == "DELETE" and _INDEX_ONLY.match(path):
            yield ShellFinding("database", "search-index-delete", "block", "critical",
                               f"{name} DELETE {path} deletes a search index and its documents")  # fmt: skip
            return
        if method in ("POST", "PUT") and path.startswith("/_aliases") and '"remove_index"' in payload:
            yield ShellFinding("database", "search-index-delete", "block", "critical",
                               f"{name} removes an index through _aliases (remove_index deletes it)")  # fmt: skip
            return
        if method in ("POST", "PUT", "PATCH", "DELETE") and _ASK_PATHS.match(path):
            yield ShellFinding("database", "search-admin", "ask", "high",
                               f"{name} {method} {path} changes a search cluster's indices, users or retention")  # fmt: skip
            return
