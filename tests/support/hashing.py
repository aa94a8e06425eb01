"""argon2id at a test cost, for the in-process identity of the integration tier.

The same algorithm and code path at a fraction of the product's cost (t=2, 19 MiB): most
integration tests register accounts, and are not about hashing. The tests that are (parameters,
rehashing) set their own; unit tests, the end-to-end stack and the benches keep the product's.
"""

CHEAP_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
