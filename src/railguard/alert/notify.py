"""Webhook notifications for approval requests, with a Slack-compatible body (`text` + `blocks`).

`notify()` only enqueues: a daemon thread POSTs, retrying with exponential backoff, so a slow or
broken webhook never delays or breaks the agent. Outcomes are counted in `stats`. The body shows the
redacted copy of the arguments only; the webhook URL (it often embeds a token) is never logged.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from railguard.state.approvals import Approval

__all__ = ["NotifierStats", "WebhookNotifier", "approval_message"]

_ARGS_PREVIEW_CHARS = 1500  # Slack rejects section texts over 3000 characters


@dataclass
class NotifierStats:
    sent: int = 0
    failed: int = 0  # gave up after every retry
    retried: int = 0
    dropped: int = 0  # the queue was full


class WebhookNotifier:
    """POST each approval request to `url` (a Slack incoming webhook, or any JSON endpoint)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_queue: int = 1000,
        approve_hint: str = "railguard approvals approve",
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.approve_hint = approve_hint
        self.stats = NotifierStats()
        self._queue: queue.Queue[Approval | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="railguard-webhook", daemon=True)
        self._thread.start()

    def notify(self, approval: Approval) -> None:
        try:
            self._queue.put_nowait(approval)
        except queue.Full:
            self.stats.dropped += 1

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued message was sent or given up on; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(approval_message(item, self.approve_hint))
            finally:
                self._queue.task_done()

    def _deliver(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retried += 1
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(
                self.url, data=data, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    if 200 <= response.status < 300:
                        self.stats.sent += 1
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass  # HTTP errors (4xx/5xx), refused connections, timeouts: retry, then count
        self.stats.failed += 1


def approval_message(approval: Approval, approve_hint: str = "railguard approvals approve") -> dict[str, Any]:
    """The Slack-compatible body: a plain `text` fallback and Block Kit `blocks`."""
    ctx = approval.context
    who = ", ".join(
        f"{k}: {v}" for k, v in (("tenant", ctx.tenant), ("agent", ctx.agent), ("user", ctx.user)) if v
    )
    args = json.dumps(dict(approval.args_redacted), indent=1, default=str, ensure_ascii=False)
    if len(args) > _ARGS_PREVIEW_CHARS:
        args = args[:_ARGS_PREVIEW_CHARS] + "\n..."
    expires = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(approval.expires_at))
    text = f"Approval needed: `{approval.tool}` ({who or 'no context'}): {approval.reason}"
    return {
        "text": text,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"Approval needed: {approval.tool}"[:150]},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Why:* {approval.reason}\n*Who:* {who or '-'}"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Arguments (redacted):*\n```{args}```"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Request `{approval.id}`, scope {approval.scope}, expires {expires}. "
                        f"Approve: `{approve_hint} {approval.id}`",
                    }
                ],
            },
        ],
    }
