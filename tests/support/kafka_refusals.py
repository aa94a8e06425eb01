"""Kafka refusing a client, raised as kafka-python raises it: the local broker has no ACLs nor SASL
listener to refuse anything for real."""

from kafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailedError,
    TopicAuthorizationFailedError,
)


def refusals(topic: str, group: str) -> list[KafkaError]:
    """Each way Kafka refuses a client: the topic's ACL, the group's, the cluster's, and the login."""
    return [
        TopicAuthorizationFailedError({topic}),
        GroupAuthorizationFailedError(group),
        ClusterAuthorizationFailedError(),
        SaslAuthenticationFailedError("invalid credentials with SASL mechanism SCRAM-SHA-512"),
    ]


def refusal_name(error: KafkaError) -> str:
    """The test id of a refusal."""
    return type(error).__name__
