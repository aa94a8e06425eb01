"""Testing against Multimedia Accounts: its stack in containers, its inbox and its events.

Installed, it is a pytest plugin (see `accounts_testkit.plugin`); the modules are usable alone.
"""
