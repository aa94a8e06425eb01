"""When a due scheduled issue may start: once the worker's consumer has handled every account event
Kafka held when the scheduler first found the issue due. A revocation of its editor's role, or the
deletion of their account, published before then holds the issue, even when the consumer was held up
(an outage, a record being retried) as the time came; and while Kafka cannot tell, the issue waits."""

import logging
from uuid import UUID

from kafka import TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Gauge

from accounts_common.kafka import UnlistedTopic
from newsletter.adapters.group_progress import GroupProgress
from newsletter.domain.issues import Issue

log = logging.getLogger(__name__)

AWAITED = Gauge(
    "newsletter_scheduled_issue_awaited_account_events",
    "Account events a due scheduled issue waits for the worker's consumer to handle (-1: not known)",
)


class DueIssueGate:
    """Asks, for the due issue at hand, whether the account events before it are handled."""

    def __init__(self, account_events: GroupProgress) -> None:
        self.account_events = account_events
        self._due: tuple[UUID, dict[TopicPartition, int]] | None = None  # an issue, where the topic ended
        self._said = ""

    def clear(self, issue: Issue) -> bool:
        """Whether `issue` may start: no account event from before it is left to handle."""
        try:
            if self._due is None or self._due[0] != issue.id:
                self._due = (issue.id, self.account_events.ends())
            awaited = self.account_events.unhandled(self._due[1])
        except (KafkaError, UnlistedTopic) as error:
            self.account_events.close()
            AWAITED.set(-1)
            self._say(issue, "unknown", f"Kafka does not tell which account events are handled ({error})")
            return False
        AWAITED.set(awaited)
        if awaited:
            self._say(issue, "unhandled", f"{awaited} account events are to be handled first")
        return awaited == 0

    def nothing_due(self) -> None:
        """No issue waits (none due, or the one waiting was held meanwhile)."""
        AWAITED.set(0)

    def close(self) -> None:
        self.account_events.close()

    def _say(self, issue: Issue, reason: str, why: str) -> None:
        """Log why a due issue waits, once for each issue and reason, not at each poll."""
        said = f"{issue.id} {reason}"
        if said != self._said:
            log.warning("issue %s is due and waits: %s", issue.id, why)
            self._said = said
