"""What the newsletter's views share."""

from flask import current_app

from newsletter.bootstrap import Newsletter


def newsletter() -> Newsletter:
    """The Newsletter this app was built with."""
    return current_app.extensions["newsletter"]
