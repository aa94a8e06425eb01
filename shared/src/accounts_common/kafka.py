"""Kafka clients configured the way every service needs them."""

from kafka import KafkaConsumer, KafkaProducer

# Below the broker's default message.max.bytes (1,048,588), so an oversized record is refused by
# the producer before anything is sent, rather than by the broker after later records went out.
MAX_RECORD_BYTES = 1_000_000


def create_producer(
    bootstrap_servers: str, *, client_id: str, max_request_size: int = MAX_RECORD_BYTES
) -> KafkaProducer:
    """An idempotent producer: acks from all replicas, retries that neither duplicate nor reorder."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_block_ms=10_000,
        request_timeout_ms=10_000,
        delivery_timeout_ms=30_000,
        reconnect_backoff_max_ms=2_000,
        max_request_size=max_request_size,
    )


def create_consumer(
    bootstrap_servers: str,
    *,
    group_id: str,
    topics: tuple[str, ...],
    group_instance_id: str | None = None,
    session_timeout_ms: int = 10_000,
    max_poll_records: int = 200,
) -> KafkaConsumer:
    """A group member that commits offsets itself, only after the work is done.

    With a `group_instance_id` it is a static member (KIP-345): restarted under the same id, it gets
    its partitions back at once instead of waiting for the group to expire its previous session.
    """
    return KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        reconnect_backoff_max_ms=2_000,
        group_instance_id=group_instance_id,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=min(3_000, session_timeout_ms // 3),
    )
