"""`portal web`: the portal's one process, run and scaled on its own (it keeps no state)."""

import argparse

from accounts_common.config import env_int, load_settings
from accounts_common.process import configure_logging, exec_gunicorn
from portal.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    web = commands.add_parser("web", help="serve the pages with gunicorn")
    web.add_argument("--port", type=int, default=env_int("PORTAL_PORT", 8000))
    web.add_argument("--workers", type=int, default=env_int("WEB_CONCURRENCY", 2))
    args = parser.parse_args(argv)
    configure_logging()
    load_settings("portal", Settings.from_env)  # refuse a development or weak key here, before the workers
    exec_gunicorn("portal.entrypoints.app:create_app()", port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
