"""A long run's replay, paged: links to a step, a decision or a page land on the page holding it;
each step's decisions show on it, its detail opens on demand, and one form labels any step
(SQLite and PostgreSQL). Plus the page arithmetic on its own."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from api_helpers import Api

from railguard.server.ui import _replay
from railguard.store import RunLabels, SpanRow
from railguard.store._replay_pages import DecisionKey, StepKey

NS = 1_000_000_000
TRACE = "f1" * 16
STEPS = 450  # three pages of 200, 200 and 50


def _key(span: str, parent: str | None, start: int = 0, **extra: Any) -> StepKey:
    return StepKey(span, parent, start, extra.get("title", span), extra.get("verdict"), "ok", extra.get("d"))


def test_depths_treat_a_missing_parent_and_a_cycle_as_roots() -> None:
    outline = [
        _key("a", None),
        _key("b", "a"),
        _key("c", "b"),
        _key("x", "gone"),
        _key("p", "q"),
        _key("q", "p"),
    ]
    depth = _replay.depths(outline)
    assert (depth["a"], depth["b"], depth["c"], depth["x"]) == (0, 1, 2, 0)
    assert sorted((depth["p"], depth["q"])) == [0, 1]


def test_place_finds_the_page_of_a_step_a_decision_or_a_number() -> None:
    outline = [_key(f"s{i}", None, i, d=f"d{i}") for i in range(450)]
    keys = [DecisionKey("e1", "d250", None, "block"), DecisionKey("e2", "other", "s3", "allow"),
            DecisionKey("e3", "loose", "elsewhere", "ask")]  # fmt: skip
    assert _replay.place(outline, keys).page == 0
    assert (
        _replay.place(outline, keys, at="s399").page == 1
        and _replay.place(outline, keys, at="s400").page == 2
    )
    placed = _replay.place(outline, keys, decision="d250")
    assert (placed.page, placed.pages) == (1, 3)
    assert placed.by_span == {"s250": ["e1"], "s3": ["e2"]} and placed.loose == ["e3"]
    assert [_replay.place(outline, keys, page=p).page for p in ("2", "99", "0", "x")] == [1, 2, 0, 0]


def test_pager_shows_the_ends_and_the_pages_around() -> None:
    assert _replay.pager(1, 1) == [1]
    assert _replay.pager(1, 5) == [1, 2, 3, None, 5]
    assert _replay.pager(10, 20) == [1, None, 8, 9, 10, 11, 12, None, 20]


def _long_run(tenant: str) -> tuple[list[SpanRow], list[dict[str, Any]]]:
    start = int((time.time() - 900) * NS)
    root = SpanRow(TRACE, "root", None, "invoke_agent ops", "internal", start, start + STEPS * NS, "ok",
                   tenant=tenant, agent="ops", operation="invoke_agent")  # fmt: skip
    spans = [root]
    for i in range(1, STEPS):
        verdict = "block" if i == 330 else "allow"
        spans.append(SpanRow(
            TRACE, f"s{i:04d}", "root", "execute_tool bash", "internal", start + i * NS, start + i * NS + 1000, "ok",
            tenant=tenant, agent="ops", operation="execute_tool", tool_name=f"tool{i}", verdict=verdict,
            decision_id=f"dec{i}", rules="no-rm" if i == 330 else None,
            attributes={"gen_ai.tool.call.arguments": f'{{"command": "step {i}"}}', "gen_ai.tool.call.result": "ok"},
        ))  # fmt: skip
    records = [
        {"v": 1, "decision_id": f"dec{i}", "event_id": f"ev{i}", "timestamp": time.time() - 900 + i, "tool": f"tool{i}",
         "verdict": "block" if i == 330 else "allow", "rules": ["no-rm"] if i == 330 else [], "reason": f"reason {i}",
         "span_id": f"s{i:04d}" if i != 420 else None, "context": {"tenant": tenant, "agent": "ops", "run": TRACE}}
        for i in (5, 330, 420)
    ] + [{"v": 1, "decision_id": "apionly", "event_id": "ev-api", "timestamp": time.time() - 800, "tool": "deploy",
          "verdict": "ask", "reason": "checked without a span", "context": {"tenant": tenant, "run": TRACE}}]  # fmt: skip
    return spans, records


def _session(api: Api, tenant: str, role: str) -> httpx.Client:
    response = httpx.get(f"{api.url}/login", params={"key": api.key(tenant, role)}, timeout=30)
    cookie = re.search(r"railguard_session=([^;]+)", response.headers.get("set-cookie", ""))
    assert response.status_code == 303 and cookie, response.text[:300]
    return httpx.Client(
        base_url=api.url, headers={"Cookie": f"railguard_session={cookie.group(1)}"}, timeout=30
    )


def _shown(page: str) -> list[str]:
    return re.findall(r'<li id="span-([^"]+)"', page)


def test_a_long_run_is_replayed_a_page_at_a_time(api: Api) -> None:
    spans, records = _long_run("acme")
    api.server.store.write_spans(spans)
    api.server.store.write_decisions(records)
    with _session(api, "acme", "viewer") as viewer:
        first = viewer.get(f"/runs/{TRACE}").text
        assert f"{STEPS} steps" in first and "steps 1\u2013200 of 450" in first
        assert _shown(first) == ["root"] + [f"s{i:04d}" for i in range(1, 200)]
        assert "reason 5" in first and "reason 330" not in first  # a step's decision is shown on it
        assert "checked without a span" in first  # a decision tied to no step: under the steps, on every page
        # The blocked step, two pages in, is one click away and its link lands on its page.
        jump = re.search(r'<a href="\?at=(s0330)#span-s0330"', first)
        assert jump and 'title="step 331, page 2"' in first
        second = viewer.get(f"/runs/{TRACE}", params={"at": "s0330"}).text
        assert "steps 201\u2013400 of 450" in second and "s0330" in _shown(second)
        assert re.search(r'<li id="span-s0330" class="blocked', second) and "reason 330" in second
        # A decision tied to its step by the span's decision id: the decisions page's link finds it.
        third = viewer.get(f"/runs/{TRACE}", params={"decision": "dec420"}).text
        assert "steps 401\u2013450 of 450" in third and 'id="decision-dec420"' in third
        assert _shown(viewer.get(f"/runs/{TRACE}", params={"page": "99"}).text) == _shown(third)
        decisions = viewer.get("/decisions", params={"tool": "tool420"}).text
        assert f'href="/runs/{TRACE}?decision=dec420#decision-dec420"' in decisions
        # A step's arguments and output come on demand; the page carries a one-line preview only.
        assert '"command": "step 5"' in first.replace("&#34;", '"') and "gen_ai.tool.call.result" not in first
        detail = viewer.get(f"/runs/{TRACE}/steps/s0005", params={"fragment": "1"})
        assert (
            detail.status_code == 200
            and "<html" not in detail.text
            and "gen_ai.tool.call.result" in detail.text
        )
        assert "<html" in viewer.get(f"/runs/{TRACE}/steps/s0005").text  # the link works without script
        assert viewer.get(f"/runs/{TRACE}/steps/nope").status_code == 404
        assert 'class="step-label"' not in first  # viewers read; approvers label
    with _session(api, "globex", "admin") as other:
        assert other.get(f"/runs/{TRACE}").status_code == 404
        assert other.get(f"/runs/{TRACE}/steps/s0005", params={"fragment": "1"}).status_code == 404


def test_one_form_labels_any_step_of_a_long_run(api: Api) -> None:
    api.server.store.write_spans(_long_run("acme")[0])
    with _session(api, "acme", "approver") as approver:
        page = approver.get(f"/runs/{TRACE}", params={"page": "3"}).text
        assert page.count("<select") == 1  # the label kinds; steps are picked by their links
        link = re.search(r'class="step-label" href="\?page=3&amp;label=(s0420)#labels"', page)
        assert link
        picked = approver.get(f"/runs/{TRACE}", params={"page": "3", "label": "s0420"}).text
        assert 'name="span_id" value="s0420"' in picked and "tool420 (+420000 ms)" in picked
        csrf = re.search(r'name="csrf" value="([^"]+)"', picked).group(1)  # type: ignore[union-attr]
        done = approver.post(
            f"/runs/{TRACE}/labels", data={"csrf": csrf, "span_id": "s0420", "label": "loop", "note": "again"}
        )
        assert done.status_code == 303 and done.headers["location"].endswith("&at=s0420#span-s0420")
        unknown = approver.post(
            f"/runs/{TRACE}/labels", data={"csrf": csrf, "span_id": "nope", "label": "loop"}
        )
        assert unknown.status_code == 400
        whole = approver.post(f"/runs/{TRACE}/labels", data={"csrf": csrf, "label": "failure", "note": "n"})
        assert whole.status_code == 303
    labels = RunLabels(api.server.store).for_run(TRACE, tenant="acme")
    assert [(x.span_id, x.label) for x in labels] == [("s0420", "loop"), (None, "failure")]
