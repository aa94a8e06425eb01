"""Kafka clients configured the way every service needs them."""

from kafka import KafkaConsumer, KafkaProducer


def create_producer(bootstrap_servers: str, *, client_id: str) -> KafkaProducer:
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
    )


def create_consumer(bootstrap_servers: str, *, group_id: str, topics: tuple[str, ...]) -> KafkaConsumer:
    """A group member that commits offsets itself, only after the work is done."""
    return KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=200,
        reconnect_backoff_max_ms=2_000,
    )
