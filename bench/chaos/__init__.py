"""`make chaos`: signup bursts through the real processes while something breaks in the middle.

Everything a scenario kills (Kafka broker(s), PostgreSQL, the SMTP sink, the service processes)
is private to the run, on its own ports and state folder (.state/chaos), so a chaos run never
touches the shared infrastructure and can run next to `make run` or another engineer's tests.
"""
