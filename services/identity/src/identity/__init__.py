"""Identity service: accounts, verification codes, sessions and the events about them."""
