"""The digest over a simulated week: every section, Markdown and HTML (inline SVG, escaped), tenant
scoping, and delivery by email to a real local SMTP server."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from local_servers import smtp_server
from typer.testing import CliRunner

from railguard._demo_week import DAY_S
from railguard.alert.digest import build_digest, render_html, render_markdown, svg_bars
from railguard.cli import app
from railguard.diagnose import run_detectors
from railguard.store import open_store


def test_digest_sections_over_the_week(week_copy_url: str, week_end: float) -> None:
    with open_store(week_copy_url) as store:
        run_detectors(store, since=week_end - 7 * DAY_S, until=week_end, now=week_end)
        d = build_digest(store, since=week_end - 7 * DAY_S, until=week_end)
        acme = build_digest(store, since=week_end - 7 * DAY_S, until=week_end, tenant="acme")
    assert {a.agent for a in d.agents} == {"support", "deploy", "research", "coding"}
    assert {a.agent for a in acme.agents} == {"support", "deploy"}
    assert all(f["tenant"] == "acme" for f in acme.findings)
    assert d.agents[0].agent == "research"  # the most expensive first (the planted model change)
    assert ("deploy/terraform-apply-prod", "block", d.refusals[0][2]) in d.refusals
    assert d.approvals.get("approved", 0) > 0 and d.approvals["pending"] == 0
    assert any("version 1.5.0" in c for c in d.changes) and any("gpt-4o-2024-08-06" in c for c in d.changes)
    assert d.findings and d.findings[0]["severity"] in ("high", "critical")
    markdown = render_markdown(d)
    for heading in (
        "## Agents",
        "## Blocks and asks by rule",
        "## Approvals",
        "## Open findings",
        "## What changed",
    ):
        assert heading in markdown
    page = render_html(d)
    svgs = re.findall(r"<svg.*?</svg>", page)
    assert len(svgs) == 2
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed
        assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 4
    assert "<script" not in page


def test_svg_labels_are_escaped() -> None:
    svg = svg_bars([("<script>alert(1)</script>", 3.0), ("b&c", 1.0)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)


def test_cli_digest_html_to_file_and_email(week_copy_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "digest.html"
    runner = CliRunner()
    result = runner.invoke(
        app, ["digest", "--db", week_copy_url, "--since", "9d", "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")
    with smtp_server() as (address, mailbox):
        target = f"smtp://{address}/?from=rg@example.com&to=ops@example.com"
        sent = runner.invoke(app, ["digest", "--db", week_copy_url, "--since", "9d", "--notify", target])
        assert sent.exit_code == 0, sent.output
        message = mailbox.messages[0]
        assert message["Subject"].startswith("Railguard digest")
        kinds = [part.get_content_type() for part in message.walk()]
        assert "text/plain" in kinds and "text/html" in kinds
    bad = runner.invoke(app, ["digest", "--db", week_copy_url, "--format", "pdf"])
    assert bad.exit_code == 2
