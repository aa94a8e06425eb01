"""The topics of the system, with their partitions and retention, and a command that creates them (and
brings the settings of those that exist up to date)."""

import argparse
import logging
from dataclasses import dataclass, field

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from accounts_common.config import add_bootstrap_servers_option
from accounts_common.kafka import create_admin

log = logging.getLogger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
# How long a record nobody could process waits for an operator to replay it.
DEAD_LETTER_RETENTION_DAYS = 30
# Production (deploy/k8s/kafka-topics.yaml): three copies, and a write (acks=all) needs two of them,
# so the loss of any one broker neither loses an acknowledged event nor stops the producers.
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2


@dataclass(frozen=True)
class Topic:
    """A Kafka topic and the settings it is created with."""

    name: str
    partitions: int = 6
    replicas: int = REPLICAS
    min_insync_replicas: int = MIN_INSYNC_REPLICAS
    configs: dict[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    description: str = ""


ACCOUNT_EVENTS = "identity.account-events.v1"
ACCOUNT_STATE = "identity.accounts.v1"
CODES = "identity.codes.v1"
SUBSCRIPTION_EVENTS = "newsletter.subscription-events.v1"
NEWSLETTER_DELIVERIES = "newsletter.deliveries.v1"
OPERATOR_ACTIONS = "audit.operator-actions.v1"
DELIVERY_RESULTS = "mailer.delivery-results.v1"
VIDEO_EVENTS = "catalogue.video-events.v1"
CONSUMER_GROUPS = ("mailer", "newsletter", "catalogue", "identity-audit")


def dead_letter_topic(group: str) -> str:
    """Where a consumer group puts the records it cannot process."""
    return f"{group}.dlq"


TOPICS = (
    Topic(
        ACCOUNT_EVENTS,
        configs={"retention.ms": str(30 * DAY_MS)},
        events=(
            "UserRegistered",
            "AccountVerified",
            "PasswordReset",
            "AccountLocaleChanged",
            "AccountDeleted",
            "SessionRevoked",
            "StaffRoleGranted",
            "StaffRoleRevoked",
        ),
        description="What happens to accounts. No secrets: open to internal consumers.",
    ),
    # Compacted: the latest state of every live account, forever. A deletion's tombstone is kept a
    # day, then gone; segments roll daily and are compacted within a week, so an erased person's
    # records are gone from the log within about 9 days. Same partition count as the events: each
    # state record goes to its event's partition number (see accounts_common.account_feed).
    Topic(
        ACCOUNT_STATE,
        configs={
            "cleanup.policy": "compact",
            "delete.retention.ms": str(DAY_MS),
            "segment.ms": str(DAY_MS),
            "max.compaction.lag.ms": str(7 * DAY_MS),
        },
        events=("AccountState",),
        description="The latest state of each account, keyed by account id; a tombstone on deletion. "
        "Compacted: a consumer starting late reads it to bootstrap, then follows "
        "identity.account-events.v1.",
    ),
    # Codes live 30 minutes; an hour of retention covers a mailer catching up after an outage. The
    # notice that someone tried to sign up with an existing account's address is here too: only its
    # owner (through the mailer) should learn it, and it is worth sending only while it is news.
    Topic(
        CODES,
        # Kept no longer than a code lives (DESIGN: retention ≤ code lifetime): the mailer skips a code
        # that expired before it could be sent, so a longer retention only keeps encrypted codes about.
        # Kafka deletes a whole segment once its newest record is past retention: 5-minute segments.
        configs={"retention.ms": str(30 * 60 * 1000), "segment.ms": str(5 * 60 * 1000)},
        events=("CodeIssued", "DuplicateSignupAttempted"),
        description="One-time codes, encrypted for the mailer, and the notices of sign-ups for an existing "
        "account (for its owner's eyes only). Restricted: identity writes, mailer reads.",
    ),
    Topic(
        SUBSCRIPTION_EVENTS,
        configs={"retention.ms": str(30 * DAY_MS)},
        events=("NewsletterSubscribed", "NewsletterUnsubscribed"),
        description="Who subscribed to or left the newsletter, and why.",
    ),
    Topic(
        NEWSLETTER_DELIVERIES,
        partitions=12,
        configs={"retention.ms": str(7 * DAY_MS)},
        events=("NewsletterDeliveryRequested",),
        description="One record per recipient of a newsletter issue: the fan-out scales with partitions.",
    ),
    Topic(
        DELIVERY_RESULTS,
        configs={"retention.ms": str(7 * DAY_MS)},
        events=("EmailDelivered", "EmailFailed"),
        description="What became of the mails: accepted by the receiving server, or failed for good (hard: "
        "the address takes no mail; soft: anything else). From the mailer's outbox; the newsletter "
        "counts its issues' figures from them and ends the subscription of an address that bounced.",
    ),
    Topic(
        VIDEO_EVENTS,
        partitions=3,
        configs={"retention.ms": str(30 * DAY_MS)},
        events=("VideoPublished", "VideoUnpublished", "VideoTextsChanged"),
        description="Videos going public, being withdrawn and having their texts changed while public, "
        "keyed by video id: the newsletter and other teams learn of new videos here.",
    ),
    # Kept for two years: who did what is asked long after (support disputes, security reviews).
    Topic(
        OPERATOR_ACTIONS,
        partitions=3,
        configs={"retention.ms": str(730 * DAY_MS)},
        events=("OperatorActionRecorded",),
        description="Every operator action (staff roles, videos, newsletter issues, support look-ups), "
        "from the acting service's outbox. Restricted: the console and security tooling read it.",
    ),
    *(
        Topic(
            dead_letter_topic(group),
            partitions=1,
            configs={"retention.ms": str(DEAD_LETTER_RETENTION_DAYS * DAY_MS)},
            description=f"Records the {group} group could not process, with the reason in dlq.* headers.",
        )
        for group in CONSUMER_GROUPS
    ),
)


@dataclass(frozen=True)
class EnsuredTopics:
    created: list[str]
    updated: list[str]  # existing topics whose declared settings differed, now set


def ensure_topics(bootstrap_servers: str, topics: tuple[Topic, ...] = TOPICS) -> EnsuredTopics:
    """Create every topic that does not exist yet, and set the declared settings of those that do
    where they differ (other settings, partitions and replicas are left as they are).

    A cluster with fewer brokers than a topic's replicas (a single local broker) gets as many
    replicas as it has brokers, and a minimum of in-sync replicas it can meet.
    """
    admin = create_admin(bootstrap_servers, client_id="accounts-topics")
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        existing = set(admin.list_topics())
        missing = [topic for topic in topics if topic.name not in existing]
        for topic in missing:
            try:
                admin.create_topics([new_topic(topic, brokers)])
            except TopicAlreadyExistsError:
                pass
        present = [topic for topic in topics if topic.name in existing]
        return EnsuredTopics([topic.name for topic in missing], update_settings(admin, present, brokers))
    finally:
        admin.close()


def update_settings(admin: KafkaAdminClient, topics: list[Topic], brokers: int) -> list[str]:
    """Set each topic's declared settings that differ on the cluster (incrementally: only those keys);
    the names of the topics changed."""
    if not topics:
        return []
    resources = [ConfigResource(ConfigResourceType.TOPIC, topic.name) for topic in topics]
    current = admin.describe_configs(resources)["topic"]
    changes = []
    for topic in topics:
        actual = {key: entry["value"] for key, entry in current.get(topic.name, {}).items()}
        wanted = settings(topic, brokers)
        differing = {key: value for key, value in wanted.items() if actual.get(key) != value}
        if differing:
            changes.append(ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=differing))
    if changes:
        admin.alter_configs(changes)
    return [change.name for change in changes]


def settings(topic: Topic, brokers: int) -> dict[str, str]:
    """The topic's settings on a cluster of `brokers` brokers."""
    min_insync = min(topic.min_insync_replicas, topic.replicas, brokers)
    return {**topic.configs, "min.insync.replicas": str(min_insync)}


def new_topic(topic: Topic, brokers: int) -> NewTopic:
    """The creation request for `topic` on a cluster of `brokers` brokers."""
    replicas = min(topic.replicas, brokers)
    return NewTopic(topic.name, topic.partitions, replicas, topic_configs=settings(topic, brokers))


def delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    """Delete these topics (private copies made by a test or benchmark run)."""
    admin = create_admin(bootstrap_servers, client_id="accounts-topics")
    try:
        admin.delete_topics(names)
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> None:
    """`accounts-topics`: create the system's topics on the cluster, and set their declared settings
    where they differ (running it again changes nothing); prints what it created and updated."""
    parser = argparse.ArgumentParser(prog="accounts-topics", description=main.__doc__)
    add_bootstrap_servers_option(parser)
    args = parser.parse_args(argv)
    try:
        ensured = ensure_topics(args.bootstrap_servers)
    except KafkaError as error:
        where = args.bootstrap_servers
        raise SystemExit(f"accounts-topics: cannot reach Kafka at {where}: {error}") from None
    print(
        f"topics: {len(TOPICS)} declared, created {', '.join(ensured.created) or 'none'}, "
        f"settings updated on {', '.join(ensured.updated) or 'none'}"
    )


if __name__ == "__main__":
    main()
