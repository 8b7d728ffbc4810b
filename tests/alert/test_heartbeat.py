"""The heartbeat: silent on a fresh store and on clean history, one line per item otherwise, dedup
with a re-notify interval across many beats, webhook / Slack / SMTP deliveries to real local servers,
and failed notifications retried and reported on the next beat."""

from __future__ import annotations

from email.message import Message
from pathlib import Path

from local_servers import hook, smtp_server
from typer.testing import CliRunner

from railguard.alert.heartbeat import HeartbeatConfig, beat
from railguard.alert.notifiers import Message as Note
from railguard.alert.notifiers import NotifyError, deliver, parse_target, slack_body
from railguard.cli import app
from railguard.state.killswitch import KillSwitch
from railguard.store import Store, open_store

T0 = 1_800_000_000.0


def _store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'rg.db'}")


def _switched_on(store: Store) -> None:
    KillSwitch(store, clock=lambda: T0).engage(tenant="acme", agent="deploy", reason="incident 42", by="ana")


def test_fresh_store_is_ok_and_sends_nothing(tmp_path: Path) -> None:
    with hook() as server, _store(tmp_path) as store:
        result = beat(store, targets=[f"webhook:{server.url}"], now=T0)
        assert result.ok and result.lines() == ["HEARTBEAT_OK"]
        assert server.bodies == []
    runner = CliRunner()
    cli = runner.invoke(app, ["heartbeat", "--db", f"sqlite:///{tmp_path / 'cli.db'}"])
    assert cli.exit_code == 0 and cli.output == "HEARTBEAT_OK\n"


def test_clean_history_is_ok(clean_week_copy: tuple[str, float]) -> None:
    url, week_end = clean_week_copy
    with open_store(url) as store:
        result = beat(store, now=week_end + 600)
    assert result.lines() == ["HEARTBEAT_OK"]


def test_one_persisting_problem_is_sent_once_then_after_the_renotify_interval(tmp_path: Path) -> None:
    config = HeartbeatConfig(renotify_s=24 * 3600)
    with hook() as server, _store(tmp_path) as store:
        _switched_on(store)
        codes = []
        for i in range(100):  # 100 beats, 15 minutes apart: 25 hours
            result = beat(store, targets=[f"webhook:{server.url}"], config=config, now=T0 + 3600 + i * 900)
            codes.append(result.ok)
            assert len(result.lines()) == 1 and "kill switch acme/deploy/* on" in result.lines()[0]
        assert not any(codes)
        assert len(server.bodies) == 2  # the first beat, and once more 24 hours later
        body = server.bodies[0]
        assert body["type"] == "railguard.heartbeat" and body["items"][0]["key"] == "killswitch:acme/deploy/*"
        # Released: quiet again, and a new engagement is new (sent at once).
        KillSwitch(store, clock=lambda: T0).release(tenant="acme", agent="deploy", by="ana")
        assert beat(store, targets=[f"webhook:{server.url}"], config=config, now=T0 + 200_000).ok
        _switched_on(store)
        beat(store, targets=[f"webhook:{server.url}"], config=config, now=T0 + 210_000)
        assert len(server.bodies) == 3


def test_at_most_five_items_most_important_first(week_copy_url: str, week_end: float) -> None:
    with open_store(week_copy_url) as store:
        _switched_on(store)
        result = beat(store, now=week_end + 600)
    lines = result.lines()
    assert len(result.items) > 5 and len(lines) == 5
    ranks = ["low", "medium", "high", "critical"]
    severities = [line.split("]")[0].strip("[") for line in lines]
    assert [ranks.index(s) for s in severities] == sorted((ranks.index(s) for s in severities), reverse=True)
    assert all(" -> railguard " in line for line in lines)


def test_slack_and_smtp_deliveries(tmp_path: Path) -> None:
    note = Note(
        "Railguard: 1 item(s) need attention",
        ("[high] loop: coding repeats Bash -> railguard findings show f-1",),
    )
    with hook() as server:
        deliver(parse_target(f"slack:{server.url}"), note)
        body = server.bodies[0]
        assert (
            body == slack_body(note)
            and body["text"].startswith("Railguard")
            and body["blocks"][0]["type"] == "header"
        )
    with smtp_server() as (address, mailbox):
        target = parse_target(
            f"smtp://{address}/?from=railguard@example.com&to=ops@example.com&to=lead@example.com"
        )
        deliver(target, note)
        message: Message = mailbox.messages[0]
        assert message["Subject"] == note.subject
        assert mailbox.envelopes[0] == ("railguard@example.com", ["ops@example.com", "lead@example.com"])
        assert "coding repeats Bash" in message.get_payload()  # type: ignore[operator]


def test_failed_notifications_are_retried_and_reported_on_the_next_beat(tmp_path: Path) -> None:
    with (
        hook(failures=3) as server,
        _store(tmp_path) as store,
    ):  # 3 attempts per delivery: the first beat fails
        _switched_on(store)
        target = f"webhook:{server.url}"
        first = beat(store, targets=[target], now=T0 + 3600)
        assert first.notify_errors and "after 3 attempts" in first.notify_errors[0]
        assert "/hook" not in first.notify_errors[0]  # the webhook's path (often a token) is never shown
        second = beat(store, targets=[target], now=T0 + 4500)
        assert second.notify_errors == []
        delivered = [b for b in server.bodies[3:]]
        assert delivered and delivered[0]["items"][0]["key"] == "killswitch:acme/deploy/*"
        # With the target down and not configured, the queued message is kept and reported.
        with hook(failures=100) as down:
            beat(store, targets=[f"webhook:{down.url}"], now=T0 + 5400 + 86_400 * 2)
            report = beat(store, now=T0 + 6300 + 86_400 * 2)
        assert any(item.key.startswith("notify:") for item in report.items)


def test_unreachable_store_is_a_critical_item() -> None:
    result = CliRunner().invoke(app, ["heartbeat", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert result.exit_code == 1
    assert result.output.startswith("[critical] the store is unreachable")


def test_bad_targets_are_refused() -> None:
    for bad in ("ftp://x", "webhook:file:///etc/passwd", "smtp://mail.example.com"):
        try:
            parse_target(bad)
        except Exception as e:
            assert "notify target" in str(e)
        else:
            raise AssertionError(bad)
    try:
        deliver(parse_target("webhook:http://127.0.0.1:9/x"), Note("s", ("l",)), retries=1, backoff_s=0.0)
    except NotifyError as e:
        assert "after 2 attempts" in str(e)


def test_a_tenant_beat_sees_only_its_tenant(week_copy_url: str, week_end: float) -> None:
    with open_store(week_copy_url) as store:
        KillSwitch(store, clock=lambda: week_end - 7200).engage(
            tenant="globex", agent="research", reason="x", by="ana"
        )
        acme = beat(store, config=HeartbeatConfig(tenant="acme"), now=week_end + 600)
        globex = beat(store, config=HeartbeatConfig(tenant="globex"), now=week_end + 600)
    acme_text = " ".join(i.text for i in acme.items)
    assert (
        acme.items
        and "research" not in acme_text
        and "coding" not in acme_text
        and "kill switch" not in acme_text
    )
    assert any(i.key == "killswitch:globex/research/*" for i in globex.items)
    assert all("research" in i.text or "kill switch" in i.text for i in globex.items)
