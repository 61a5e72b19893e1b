"""`auditor scan --notify-webhook URL`: tell a chat channel about new failures.

The body is `{"text": ...}`, which both a Slack incoming webhook and a Microsoft Teams
incoming webhook (and a Teams workflow's "post to a channel when a webhook request is
received" trigger) accept as a plain message. It lists failures that are new against the
baseline or the last comparable run in history, or every failure when there is nothing to
compare with; nothing is posted when there is no new failure.

What a message may say is deliberately narrow: severity, check id, target and resource (a
database object name) — never a check's message or evidence, which can quote settings or
observed values. Names come from the scanned database (hostile input): they are passed
through the redaction policy, cut to one short line, and Slack's control characters (`<`,
`>`, `&`, which open mentions such as `<!channel>` and links) are escaped.

A webhook URL holds a token: it is remembered as a secret (redacted wherever it turns up) and
never echoed; messages name its host only. A notification that cannot be delivered is a
one-line warning: it never fails the scan.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from auditor import redact
from auditor.model import Result, ScanResults, Status

NOTIFY_ENV = "AUDITOR_NOTIFY_WEBHOOK"
TIMEOUT_SECONDS = 10.0
MAX_LISTED = 20  # chat messages are read, not searched: the rest is a count
_MAX_NAME = 120


class NotifyError(Exception):
    """A webhook URL that cannot be used (exit 2 before scanning); never quotes the URL."""


@dataclass(frozen=True)
class Webhook:
    url: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"


def parse_webhook(value: str) -> Webhook:
    # The errors below never quote the URL. A usable one is remembered as a secret (its path or
    # query is the credential); a malformed one is not, since a bare "https://" remembered
    # would mask every URL the process prints afterwards.
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        raise NotifyError("--notify-webhook: not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise NotifyError("--notify-webhook: must be an https:// (or http://) URL with a host")
    redact.remember_secret(value)
    secret_part = parts.path.strip("/") + (f"?{parts.query}" if parts.query else "")
    if len(secret_part) >= 12:  # a token, not a word like "webhook" that prose also holds
        redact.remember_secret(secret_part)
    return Webhook(value)


def _safe(text: str) -> str:
    """One short line of a name from the scanned database, harmless in Slack or Teams."""
    line = " ".join(redact.redact_text(text).split())
    if len(line) > _MAX_NAME:
        line = line[: _MAX_NAME - 1] + "…"
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def new_failures(results: ScanResults, base: ScanResults | None) -> list[Result]:
    """Unwaived failures the base did not report (every failure without a base), the most
    severe first. Compared as `auditor diff` compares: within the scope both runs selected."""
    failing = [f for f in results.findings if f.status is Status.FAIL]
    if base is not None:
        from auditor.diff import diff_results

        new_keys = {
            (c.target, c.check_id, c.resource or "")
            for c in diff_results(base, results).new_failures
        }
        failing = [f for f in failing if (f.target, f.check_id, f.resource or "") in new_keys]
    return sorted(failing, key=lambda f: (-f.severity.rank, f.check_id, f.target))


def message_text(results: ScanResults, new: list[Result], compared_with: str) -> str:
    count = len(new)
    head = (
        f"Auditor scan {results.run_id[:8]}: {count} new failure{'s' if count != 1 else ''} "
        f"({compared_with})"
    )
    lines = [head]
    for f in new[:MAX_LISTED]:
        where = _safe(f.target) + (f" / {_safe(f.resource)}" if f.resource else "")
        lines.append(f"- [{f.severity.value}] {_safe(f.check_id)} on {where}")
    if count > MAX_LISTED:
        lines.append(f"- … and {count - MAX_LISTED} more (see the scan's report)")
    return "\n".join(lines)


def post(webhook: Webhook, body: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> None:
    """POST the JSON body; NotifyError (one line, host only) when it is not accepted."""
    request = urllib.request.Request(
        webhook.url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "auditor-notify"},
        method="POST",
    )
    try:
        # The scheme is checked in parse_webhook: http(s) only, never file:// or ftp://.
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"HTTP {exc.code} from {webhook.host}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NotifyError(
            f"cannot reach {webhook.host}: {redact.redact_text(str(reason))}"
        ) from None


def notify_new_failures(
    webhook: Webhook, results: ScanResults, base: ScanResults | None, compared_with: str
) -> str:
    """Post the new failures; returns the one line to print (what was sent, or why not).
    Delivery problems come back as a line starting with 'warning:'."""
    new = new_failures(results, base)
    if not new:
        return f"notify: no new failure ({compared_with}); nothing sent"
    try:
        post(webhook, {"text": message_text(results, new, compared_with)})
    except NotifyError as exc:
        return f"warning: notification not sent: {' '.join(str(exc).split())}"
    return f"notify: {len(new)} new failure(s) sent to {webhook.host}"


def previous_run(history: Any, results: ScanResults) -> ScanResults | None:
    """The last comparable run kept in the history store (auditor.store.HistoryDB; None when
    there is none or it cannot be read: the notification then lists every failure and says
    so)."""
    try:
        found: ScanResults | None = history.latest_comparable(results)
    except Exception:  # an unreadable history is reported by the history step itself
        return None
    return found


def notify_with_context(
    webhook: Webhook,
    results: ScanResults,
    base: ScanResults | None,
    baseline: object | None,
    history: Any,
    echo: Callable[..., Any],
) -> None:
    """What the scan command calls: pick what to compare with (the baseline when one was
    given, else the last comparable run in history, else nothing), post, print one line."""
    if baseline is not None:
        label = f"against baseline {base.run_id[:8]}" if base is not None else "no baseline run"
    elif history is not None:
        base = previous_run(history, results)
        label = f"since run {base.run_id[:8]}" if base is not None else "first run in history"
    else:
        label = "every failure: no baseline or history to compare with"
    echo(f"auditor: {notify_new_failures(webhook, results, base, label)}", err=True)
