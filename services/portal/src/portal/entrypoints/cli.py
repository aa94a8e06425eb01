"""`portal web`: the portal's one process, run and scaled on its own (it keeps no state)."""

from accounts_common.cli import ServiceCli
from portal.settings import Settings

# The settings are loaded before gunicorn starts: a development or weak key is refused here, once.
cli = ServiceCli("portal", __doc__, Settings)
cli.web("serve the pages with gunicorn")
main = cli.main

if __name__ == "__main__":
    main()
