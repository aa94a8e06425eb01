"""`portal web`: the portal's one process, run and scaled on its own (it keeps no state)."""

import argparse

from accounts_common.config import load_settings
from accounts_common.process import add_web_command, configure_logging, exec_gunicorn
from portal.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_web_command(
        commands, help="serve the pages with gunicorn", port_variable="PORTAL_PORT", default_port=8000
    )
    args = parser.parse_args(argv)
    configure_logging()
    load_settings("portal", Settings.from_env)  # refuse a development or weak key here, before the workers
    exec_gunicorn("portal.entrypoints.app:create_app()", host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
