"""The mailer worker's Prometheus metrics (served on MAILER_WORKER_METRICS_PORT)."""

from prometheus_client import Counter, Histogram

from accounts_common.events.schemas import EMAIL_KINDS

SENT = Counter("mailer_emails_sent_total", "Emails the SMTP server accepted", ["kind"])
RETRIED = Counter("mailer_emails_retried_total", "Attempts that failed for a passing reason", ["kind"])
SKIPPED = Counter(
    "mailer_emails_skipped_total", "Emails not sent on purpose (expired code, erased account)", ["kind"]
)
FAILED = Counter("mailer_emails_failed_total", "Emails refused for good (dead-lettered)", ["kind"])
SEND_SECONDS = Histogram(
    "mailer_smtp_send_seconds",
    "Time the SMTP server took to accept one email",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def export_every_kind() -> None:
    """Every kind's counters at 0 from the start: an alert on increase() sees the first failure."""
    for kind in EMAIL_KINDS:
        for counter in (SENT, RETRIED, SKIPPED, FAILED):
            counter.labels(kind)
