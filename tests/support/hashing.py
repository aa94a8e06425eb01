"""argon2id at a test cost, for the identities the tests run.

The same algorithm and code path at a fraction of the product's cost (t=2, 19 MiB): most tests
register accounts or log in, and are not about hashing. The in-process identity of the integration
tier takes CHEAP_HASHING; identity's processes (the stack of the end-to-end and browser tests, the
private identities, the short chaos run) take CHEAP_HASHING_ENV. The tests that are about hashing
(parameters, rehashing) set their own; unit tests and the benches' own identities keep the product's.
"""

CHEAP_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
# The same, as identity's settings read them from the environment (IDENTITY_<FIELD>).
CHEAP_HASHING_ENV = {f"IDENTITY_{name.upper()}": str(value) for name, value in CHEAP_HASHING.items()}
