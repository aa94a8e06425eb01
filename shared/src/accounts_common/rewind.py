"""`accounts-rewind --group G --to TIME`: move a stopped consumer group back to the first record at or
after TIME, on every partition it has committed offsets for; past the last record, to the end.

What `kafka-consumer-groups.sh --reset-offsets --to-datetime TIME --all-topics --execute` does,
where Kafka's scripts are not installed (`make run`'s broker is its jars alone). After PostgreSQL
is restored, the groups that project events into it apply again what it lost
(docs/operating/backups.md). Kafka refuses it while the group has members: stop its workers first.
"""

import argparse
import logging
import sys
from datetime import datetime

from kafka import TopicPartition
from kafka.admin import OffsetTimestamp
from kafka.errors import KafkaError, NoError

from accounts_common.config import add_bootstrap_servers_option
from accounts_common.kafka import REFUSED, create_admin, not_authorized

Moves = dict[TopicPartition, tuple[int, int]]


class RewindRefused(Exception):
    """The group cannot be rewound as asked (it has members, or no committed offsets)."""


def rewind(bootstrap_servers: str, group: str, to: datetime) -> Moves:
    """Set the group's committed offsets to the first record at or after `to`; (from, to) of each."""
    admin = create_admin(bootstrap_servers, client_id="accounts-rewind")
    try:
        committed = admin.list_group_offsets({group: None})[group]
        if not committed:
            raise RewindRefused(f"group {group} has no committed offsets: nothing to rewind")
        at = OffsetTimestamp(int(to.timestamp() * 1000))
        results = admin.reset_group_offsets(group, dict.fromkeys(committed, at))
    finally:
        admin.close()
    refused = sorted(
        {result["error"].__name__ for result in results.values() if result["error"] is not NoError}
    )
    if refused:
        raise RewindRefused(
            f"Kafka refused to move group {group} ({', '.join(refused)}): stop its workers, then run it again"
        )
    return {
        partition: (committed[partition].offset, result["offset"]) for partition, result in results.items()
    }


def aware_time(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with its offset from UTC (2026-12-07T09:00:00Z)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text} has no offset from UTC: add Z or +01:00")
    return moment


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # what failed in the end is said in one line
    parser = argparse.ArgumentParser(
        prog="accounts-rewind", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--group", required=True, help="the consumer group, e.g. catalogue")
    parser.add_argument(
        "--to", required=True, type=aware_time, help="a time with its offset, e.g. 2026-12-07T09:00Z"
    )
    add_bootstrap_servers_option(parser)
    args = parser.parse_args(argv)
    try:
        moves = rewind(args.bootstrap_servers, args.group, args.to)
    except RewindRefused as error:
        sys.exit(f"accounts-rewind: {error}")
    except REFUSED as error:  # a setting to fix, not an outage
        sys.exit(str(not_authorized("accounts-rewind", error, then="nothing moved")))
    except KafkaError as error:
        sys.exit(f"accounts-rewind: cannot reach Kafka at {args.bootstrap_servers}: {error}")
    for partition, (before, after) in sorted(moves.items()):
        print(f"{args.group} {partition.topic}[{partition.partition}]: {before} -> {after}")


if __name__ == "__main__":
    main()
