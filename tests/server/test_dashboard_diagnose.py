"""The dashboard's diagnosis pages over HTTP with a logged-in session (SQLite and PostgreSQL): the run
replay's "Why did this run go wrong?" (inline page and in-place fragment, step highlighted), the
findings list (filters, evidence links to run steps, status changes with the CSRF token), one finding,
and the heartbeat on the overview; each in the session's tenant only."""

from __future__ import annotations

import re

import httpx
from api_helpers import Api
from diagnose_seed import seed

from railguard.alert.heartbeat import HeartbeatConfig, beat
from railguard.diagnose import run_detectors


class Browser:
    """A logged-in dashboard session: its cookie and the CSRF token its pages carry."""

    def __init__(self, api: Api, tenant: str, role: str) -> None:
        self.url = api.url
        login = httpx.get(f"{api.url}/login", params={"key": api.key(tenant, role)}, follow_redirects=False)
        assert login.status_code == 303, login.text
        self.cookies = {"railguard_session": login.cookies["railguard_session"]}

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", cookies=self.cookies, follow_redirects=False, **kw)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", cookies=self.cookies, data=data, follow_redirects=False)

    def csrf(self, page: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, "no CSRF token on the page"
        return found.group(1)


def test_why_button_answers_inline_with_the_step_highlighted(api: Api) -> None:
    acme = seed(api.server.store, "acme")
    viewer = Browser(api, "acme", "viewer")
    run = viewer.get(f"/runs/{acme.blocked_run}")
    assert run.status_code == 200 and "Why did this run go wrong?" in run.text
    assert f'data-why="/runs/{acme.blocked_run}/why?fragment=1"' in run.text and "why-step" not in run.text
    fragment = viewer.get(f"/runs/{acme.blocked_run}/why", params={"fragment": "1"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'data-why-step="{acme.blocked_span}"' in fragment.text and "blocked" in fragment.text
    # The step link lands on the replay page holding the step (a long run's replay is paged).
    step_link = f'href="/runs/{acme.blocked_run}/why?at={acme.blocked_span}#span-{acme.blocked_span}"'
    assert step_link in fragment.text and "Suggested fix" in fragment.text
    page = viewer.get(f"/runs/{acme.blocked_run}/why")  # without script: the replay with the answer in it
    assert page.status_code == 200 and "<html" in page.text
    highlighted = re.search(r'<li id="span-([0-9a-f]+)" class="[^"]*why-step', page.text)
    assert highlighted and highlighted.group(1) == acme.blocked_span
    assert "confidence <strong>0.92</strong>" in page.text and "no-prod-apply" in page.text
    # Another tenant's session: no such run.
    other = Browser(api, "globex", "admin").get(f"/runs/{acme.blocked_run}/why", params={"fragment": "1"})
    assert other.status_code == 404 and "no-prod-apply" not in other.text


def test_findings_page_filters_links_and_status_changes(api: Api) -> None:
    store = api.server.store
    acme = seed(store, "acme")
    seed(store, "globex", agent="crawler")
    run_detectors(store)
    approver = Browser(api, "acme", "approver")
    page = approver.get("/findings")
    assert page.status_code == 200 and 'href="/findings" class="on"' in page.text
    assert "poller" in page.text and "crawler" not in page.text  # globex's finding stays in globex
    finding_id = re.search(r'href="/findings/(f-[0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    links = re.findall(r'href="/runs/([0-9a-f]+)\?at=([0-9a-f]+)#span-([0-9a-f]+)"', page.text)
    assert links and {trace for trace, _, _ in links} <= set(acme.loop_runs)
    assert all(at == anchor for _, at, anchor in links)
    assert "poller" not in approver.get("/findings", params={"kind": "cost_spike"}).text
    assert "poller" in approver.get("/findings", params={"severity": "medium", "status": "open"}).text
    assert approver.get("/findings", params={"kind": "nope"}).status_code == 400

    # A change without the session's CSRF token is refused; with it, it is made and audited.
    no_token = approver.post(f"/findings/{finding_id}/status", {"status": "muted"})
    assert no_token.status_code == 403
    done = approver.post(
        f"/findings/{finding_id}/status",
        {
            "csrf": approver.csrf(page.text),
            "status": "muted",
            "note": "known poller",
            "back": "status=open&x=1",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/findings?status=open&done=finding"
    after = approver.get("/findings", params={"status": "open"})
    assert "poller" not in after.text and "Finding status changed" not in after.text
    one = approver.get(f"/findings/{finding_id}")
    assert "muted" in one.text and "known poller" in one.text and "acme-approver" in one.text
    audit = approver.get("/audit")
    assert "finding.muted" in audit.text

    # Viewers see no status form and cannot post one; another tenant cannot reach the finding.
    viewer = Browser(api, "acme", "viewer")
    listing = viewer.get("/findings")
    assert "Set status" not in listing.text
    refused = viewer.post(
        f"/findings/{finding_id}/status", {"csrf": viewer.csrf(listing.text), "status": "open"}
    )
    assert refused.status_code == 403
    globex = Browser(api, "globex", "admin")
    assert globex.get(f"/findings/{finding_id}").status_code == 404
    forged = globex.post(
        f"/findings/{finding_id}/status",
        {"csrf": globex.csrf(globex.get("/findings").text), "status": "open"},
    )
    assert forged.status_code == 404
    assert "muted" in approver.get(f"/findings/{finding_id}").text


def test_overview_shows_the_heartbeat(api: Api) -> None:
    store = api.server.store
    viewer = Browser(api, "acme", "viewer")
    assert "No heartbeat ran yet" in viewer.get("/").text
    seed(store, "acme")
    beat(store, config=HeartbeatConfig(tenant="acme", link_base=api.url), name="server")
    beat(store, config=HeartbeatConfig(tenant="globex"), name="server")
    overview = viewer.get("/").text
    assert "ATTENTION" in overview and "loop" in overview and f'href="{api.url}/findings/f-' in overview
    assert "HEARTBEAT_OK" in Browser(api, "globex", "viewer").get("/").text
