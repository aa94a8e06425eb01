"""The testkit's free ports: never the same one twice in a process, though bind(0) may repeat."""

from accounts_testkit.ports import free_port


def test_ports_handed_out_before_their_servers_bind_are_all_different():
    # Birthday odds: 2,000 draws among ~14,000 ports repeat one about 140 times without the record.
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
