"""Alerts (the SNS role): run failed, run succeeded, data-quality breach.

Every alert is appended to a local JSON-lines alert log, then delivered to the
configured Slack-compatible webhook and SMTP recipients. A delivery is retried with
backoff; one that still fails is logged (and recorded in the alert log) but never fails
the run: the run's own record is the source of truth, alerts are how people hear of it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from cartflow.config import AlertsSection, EmailAlerts, Project, WebhookAlerts
from cartflow.runtime.retry import RetryPolicy, call_with_retry
from cartflow.runtime.state import utcnow

if TYPE_CHECKING:  # httpx and the email modules load when an alert is sent, not in every run
    from email.message import EmailMessage

log = logging.getLogger(__name__)

SEVERITY_EMOJI = {"error": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_green_circle:"}


@dataclass
class Alert:
    kind: str
    """run_failed | run_partial | run_succeeded | quality_breach | run_crashed"""
    severity: str
    """error | warning | info"""
    title: str
    text: str
    project: str
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=utcnow)
    host: str = field(default_factory=socket.gethostname)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def slack_payload(self) -> dict[str, Any]:
        """Slack incoming-webhook JSON: `text` (notifications, fallbacks) plus Block Kit blocks."""
        head = f"{SEVERITY_EMOJI.get(self.severity, '')} *{self.title}*".strip()
        context = f"project `{self.project}` · run `{self.run_id or '-'}` · {self.host} · {self.at}"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{head}\n{self.text}"[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ]
        return {"text": f"{self.title}: {self.text}"[:3000], "blocks": blocks}


class Sink(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver, or raise (the Alerter retries)."""


class DeliveryError(Exception):
    """A receiver refused or did not answer; retried by the Alerter."""


class WebhookSink:
    """POSTs the alert to a Slack-compatible incoming webhook (or any JSON receiver)."""

    name = "webhook"

    def __init__(self, cfg: WebhookAlerts) -> None:
        self.cfg = cfg

    def url(self) -> str:
        if self.cfg.url:
            return self.cfg.url
        value = os.environ.get(self.cfg.url_env or "")
        if not value:
            err = DeliveryError(f"[alerts.webhook] url_env: ${self.cfg.url_env} is not set: export it "
                                "(the webhook URL) or remove [alerts.webhook]")
            err.retryable = False  # type: ignore[attr-defined]
            raise err
        return value

    def send(self, alert: Alert) -> None:
        import httpx

        body = alert.slack_payload() if self.cfg.format == "slack" else {**alert.to_dict(), "text": alert.text}
        try:
            resp = httpx.post(self.url(), json=body, timeout=self.cfg.timeout_seconds)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            raise DeliveryError(f"webhook answered HTTP {resp.status_code}: {resp.text[:200]}")


class EmailSink:
    """Sends the alert over SMTP (plain, STARTTLS or implicit TLS, optional login)."""

    name = "email"

    def __init__(self, cfg: EmailAlerts, project: str) -> None:
        self.cfg, self.project = cfg, project

    def message(self, alert: Alert) -> EmailMessage:
        from email.message import EmailMessage

        msg = EmailMessage()
        msg["Subject"] = f"[cartflow {self.project}] {alert.title}"
        msg["From"] = self.cfg.from_addr
        msg["To"] = ", ".join(self.cfg.to)
        msg["X-Cartflow-Alert"] = alert.kind
        if alert.run_id:
            msg["X-Cartflow-Run"] = alert.run_id
        details = json.dumps(alert.details, indent=2, default=str) if alert.details else ""
        msg.set_content(f"{alert.text}\n\nproject: {alert.project}\nrun: {alert.run_id or '-'}\n"
                        f"host: {alert.host}\nat: {alert.at}\n" + (f"\ndetails:\n{details}\n" if details else ""))
        return msg

    def send(self, alert: Alert) -> None:
        import smtplib

        cfg = self.cfg
        cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
        try:
            with cls(cfg.host, cfg.port, timeout=cfg.timeout_seconds) as smtp:
                if cfg.starttls and not cfg.ssl:
                    smtp.starttls()
                if cfg.username_env:
                    smtp.login(os.environ.get(cfg.username_env, ""), os.environ.get(cfg.password_env or "", ""))
                smtp.send_message(self.message(alert))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"email via {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}") from exc


@dataclass
class Delivery:
    sink: str
    ok: bool
    attempts: int
    error: str | None = None


class Alerter:
    """Writes each alert to the alert log and delivers it to every sink; never raises."""

    _log_lock = threading.Lock()

    def __init__(self, sinks: list[Sink], log_path: Path | None, policy: RetryPolicy,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.sinks, self.log_path, self.policy, self.sleep = sinks, log_path, policy, sleep

    def notify(self, alert: Alert) -> list[Delivery]:
        deliveries = [self._deliver(sink, alert) for sink in self.sinks]
        self._append(alert, deliveries)
        return deliveries

    def _deliver(self, sink: Sink, alert: Alert) -> Delivery:
        def on_retry(attempt: int, exc: BaseException, wait: float) -> None:
            log.warning("alert delivery to %s failed (attempt %d), retrying in %.1fs: %s",
                        sink.name, attempt, wait, exc, extra={"alert": alert.kind, "sink": sink.name})

        outcome = call_with_retry(lambda: sink.send(alert), self.policy, on_retry=on_retry, sleep=self.sleep)
        if outcome.ok:
            log.info("alert %s delivered to %s", alert.kind, sink.name,
                     extra={"alert": alert.kind, "sink": sink.name, "attempts": outcome.attempts})
            return Delivery(sink.name, True, outcome.attempts)
        log.error("alert %s NOT delivered to %s after %d attempt(s): %s (it is in the alert log)",
                  alert.kind, sink.name, outcome.attempts, outcome.error,
                  extra={"alert": alert.kind, "sink": sink.name, "attempts": outcome.attempts})
        return Delivery(sink.name, False, outcome.attempts, str(outcome.error))

    def _append(self, alert: Alert, deliveries: list[Delivery]) -> None:
        if self.log_path is None:
            return
        line = json.dumps({**alert.to_dict(), "deliveries": [asdict(d) for d in deliveries]}, default=str)
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self._log_lock, self.log_path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:  # a full disk must not turn a succeeded run into a crash
            log.error("could not write the alert log %s: %s", self.log_path, exc)


def alerter_for(project: Project, sleep: Callable[[float], None] = time.sleep) -> Alerter:
    cfg: AlertsSection = project.config.alerts
    sinks: list[Sink] = []
    if cfg.webhook:
        sinks.append(WebhookSink(cfg.webhook))
    if cfg.email:
        sinks.append(EmailSink(cfg.email, project.config.project.name))
    policy = RetryPolicy(attempts=cfg.delivery_attempts, backoff_seconds=cfg.delivery_backoff_seconds,
                         max_backoff_seconds=30.0, jitter=0.3)
    return Alerter(sinks, project.resolve(cfg.log) if cfg.log else None, policy, sleep)


def read_alert_log(project: Project, limit: int | None = None) -> list[dict[str, Any]]:
    """The alert log's entries, oldest first (the last `limit`)."""
    cfg = project.config.alerts
    path = project.resolve(cfg.log) if cfg.log else None
    if path is None or not path.is_file():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return entries[-limit:] if limit else entries


def run_alerts(project: Project, result: Any) -> list[Alert]:
    """The alerts a finished run calls for, per `[alerts]`: its outcome, then each quality breach."""
    cfg = project.config.alerts
    name = project.config.project.name
    alerts: list[Alert] = []
    stats = {"new_batches": result.new_batches, "seconds": result.seconds,
             "failed_sources": result.failed_sources, "stage_seconds": result.stage_seconds}
    if result.status == "failed" and cfg.on_failure:
        alerts.append(Alert("run_failed", "error", f"run {result.run_id} failed",
                            result.error or "see `cartflow runs " + result.run_id + "`", name, result.run_id, stats))
    elif result.status == "partial" and cfg.on_partial:
        rejected = getattr(result, "rejected_files", None) or {}
        what = " and ".join(w for w, on in (("optional source(s) failed", result.failed_sources),
                                             (f"{len(rejected)} file(s) rejected", rejected)) if on)
        alerts.append(Alert("run_partial", "warning", f"run {result.run_id} partial: {what or 'see the run'}",
                            result.error or "", name, result.run_id, {**stats, "rejected_files": rejected}))
    elif result.status == "succeeded" and cfg.on_success:
        alerts.append(Alert("run_succeeded", "info", f"run {result.run_id} succeeded",
                            f"{result.new_batches} new batch(es) in {result.seconds:.1f}s", name, result.run_id,
                            {**stats, "layer_rows": result.layer_rows}))
    if cfg.on_quality:
        for breach in getattr(result, "breaches", []):
            alerts.append(Alert("quality_breach", "error" if breach.check == "reconciliation" else "warning",
                                f"data quality: {breach.check}", breach.message, name, result.run_id,
                                {"check": breach.check, **breach.details}))
    return alerts


def crash_alert(project: Project, crash: Any) -> Alert:
    """`run_crashed`: a process died holding the project lock (a `CrashedRun` of the state store)."""
    return Alert("run_crashed", "error", f"run {crash.run_id or '?'} died without finishing",
                 f"process {crash.pid} on {crash.host} died holding the project lock (since {crash.started_at}); "
                 f"run {crash.recovered_by} recovered the lock and recorded that run as failed",
                 project.config.project.name, crash.run_id,
                 {"run_id": crash.run_id, "pid": crash.pid, "host": crash.host, "started_at": crash.started_at,
                  "recovered_by": crash.recovered_by})


def notify_crashes(project: Project, crashes: list[Any], alerter: Alerter | None = None) -> list[Any]:
    """Send each crash's `run_crashed` alert (per `[alerts] on_failure`); returns the crashes dealt with.

    Never raises: a broken alert config is logged, and those crashes stay unsent for the next run.
    """
    if not crashes or not project.config.alerts.on_failure:
        return list(crashes)
    try:
        alerter = alerter or alerter_for(project)
    except Exception:  # noqa: BLE001 - alerting must never crash a run
        log.exception("alerting failed for %d crashed run(s)", len(crashes))
        return []
    for crash in crashes:
        alerter.notify(crash_alert(project, crash))
    return list(crashes)


def notify_run(project: Project, result: Any, alerter: Alerter | None = None) -> list[tuple[Alert, list[Delivery]]]:
    """Send a finished run's alerts; a broken alert config is logged, never raised."""
    try:
        alerter = alerter or alerter_for(project)
        return [(a, alerter.notify(a)) for a in run_alerts(project, result)]
    except Exception:  # noqa: BLE001 - alerting must never crash a run
        log.exception("alerting failed for run %s", getattr(result, "run_id", "?"))
        return []
