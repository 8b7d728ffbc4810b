"""Where the heartbeat and the digest send what needs a person: a JSON webhook, a Slack-compatible
incoming webhook, or email over SMTP. Targets are strings:

    webhook:https://hooks.example.com/railguard     (or any https:// / http:// URL)
    slack:https://hooks.slack.com/services/T/B/X
    smtp://user:password@mail.example.com:587/?from=railguard@example.com&to=ops@example.com&starttls=1

A delivery is retried a few times with backoff; a failure raises NotifyError (its message never holds
the target's secrets: the webhook path and the SMTP password are left out).
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from railguard.errors import ConfigurationError, RailguardError


class NotifyError(RailguardError):
    """A notification could not be delivered (after retries)."""


@dataclass(frozen=True, slots=True)
class Message:
    """What to send: a subject, lines of text (one per item), optional HTML, and structured items."""

    subject: str
    lines: tuple[str, ...]
    items: tuple[dict[str, Any], ...] = ()
    html: str | None = None
    kind: str = "railguard.heartbeat"


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # webhook | slack | smtp
    url: str

    @property
    def display(self) -> str:
        """For logs and reports: scheme and host only."""
        parts = urlsplit(self.url)
        return f"{self.kind}:{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def parse_target(text: str) -> Target:
    value = text.strip()
    for prefix in ("webhook:", "slack:"):
        if value.startswith(prefix):
            target = Target(prefix[:-1], value[len(prefix) :])
            break
    else:
        scheme = urlsplit(value).scheme
        if scheme in ("smtp", "smtps"):
            target = Target("smtp", value)
        elif scheme in ("http", "https"):
            target = Target("webhook", value)
        else:
            raise ConfigurationError(
                f"unknown notify target {value[:40]!r}: use webhook:https://..., slack:https://... or "
                "smtp://host:port/?from=a@example.com&to=b@example.com"
            )
    if target.kind != "smtp" and urlsplit(target.url).scheme not in ("http", "https"):
        raise ConfigurationError(
            f"notify target {target.display}: the webhook URL must start with http(s)://"
        )
    if target.kind == "smtp":
        query = parse_qs(urlsplit(target.url).query)
        if not query.get("from") or not query.get("to"):
            raise ConfigurationError(f"notify target {target.display}: add ?from=...&to=... to the smtp URL")
    return target


def deliver(
    target: Target,
    message: Message,
    *,
    retries: int = 2,
    backoff_s: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send, retrying with exponential backoff; NotifyError after the last attempt."""
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff_s * 2 ** (attempt - 1))
        try:
            _SENDERS[target.kind](target, message)
            return
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as e:
            last = f"{type(e).__name__}{f' {e.code}' if isinstance(e, urllib.error.HTTPError) else ''}"
    raise NotifyError(f"could not notify {target.display} after {retries + 1} attempts ({last})")


def webhook_body(message: Message) -> dict[str, Any]:
    return {
        "type": message.kind,
        "subject": message.subject,
        "items": list(message.items),
        "text": "\n".join(message.lines),
    }


def slack_body(message: Message) -> dict[str, Any]:
    text = "\n".join(f"• {line}" for line in message.lines)
    return {
        "text": f"{message.subject}\n{text}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900] or "-"}},
        ],
    }


def _post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if not 200 <= response.status < 300:
            raise ValueError(f"HTTP {response.status}")


def _send_webhook(target: Target, message: Message) -> None:
    _post_json(target.url, webhook_body(message))


def _send_slack(target: Target, message: Message) -> None:
    _post_json(target.url, slack_body(message))


def _send_smtp(target: Target, message: Message) -> None:
    parts = urlsplit(target.url)
    query = parse_qs(parts.query)
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = query["from"][0]
    email["To"] = ", ".join(query["to"])
    email.set_content("\n".join(message.lines) + "\n")
    if message.html:
        email.add_alternative(message.html, subtype="html")
    smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with smtp_class(
        parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 25), timeout=10
    ) as smtp:
        if query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(email)


_SENDERS: dict[str, Callable[[Target, Message], None]] = {
    "webhook": _send_webhook,
    "slack": _send_slack,
    "smtp": _send_smtp,
}


def parse_targets(texts: Sequence[str]) -> list[Target]:
    return [parse_target(t) for t in texts]
