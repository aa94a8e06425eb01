"""Multimedia Accounts portal: the public web pages, calling the other services' HTTP APIs."""
