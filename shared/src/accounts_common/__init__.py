"""Multimedia Accounts common library: what every service (and any internal consumer) shares."""
