"""Mailer service: turns account events into emails, each delivered once."""
