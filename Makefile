# Multimedia Accounts — the two commands a newcomer needs are `make run` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
# Python keeps its bytecode (in git-ignored __pycache__ folders) under make, even where the shell sets
# PYTHONDONTWRITEBYTECODE: pytest caches the assertion-rewritten test modules there, and each worker
# that finds them collects the suite on half the CPU (6.4 s instead of 11.6 s, measured).
export PYTHONDONTWRITEBYTECODE :=
INSTALLED := $(VENV)/.installed
BROWSER := .tools/.installed
PACKAGE_FILES := shared/pyproject.toml testkit/pyproject.toml services/identity/pyproject.toml \
	services/mailer/pyproject.toml services/catalogue/pyproject.toml services/portal/pyproject.toml \
	services/newsletter/pyproject.toml \
	$(wildcard services/portal/src/portal/translations/*/LC_MESSAGES/messages.po) \
	examples/verified-accounts-counter/pyproject.toml requirements-dev.txt deploy/local/install.sh \
	deploy/local/build-mailpit.sh deploy/local/portal-assets.sh services/portal/assets/package-lock.json

.PHONY: help install browser run staff-grant staff-list test test-young-clock lint format infra-up infra-down bench chaos clean-state \
	docs containers test-containers compose-up compose-down compose-smoke clean-containers backup restore backup-drill

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Create .venv with every package (editable) and the dev tools

$(INSTALLED): $(PACKAGE_FILES)
	bash deploy/local/install.sh
	@touch $@

browser: $(BROWSER) ## Install what the browser tests drive: Debian's chromium and axe-core (npm)

$(BROWSER): deploy/local/browser.sh
	bash deploy/local/browser.sh
	@touch $@

run: install ## Start Kafka, PostgreSQL, the SMTP sink and every service; Ctrl-C stops them
	bash deploy/local/run.sh

staff-grant: install ## Give a verified account of `make run` a staff role: EMAIL=you@example.org ROLE=admin
	@[[ -n "$(EMAIL)" && -n "$(ROLE)" ]] || \
		{ echo "usage: make staff-grant EMAIL=… ROLE=admin|catalogue-editor|newsletter-editor|support" >&2; exit 2; }
	bash deploy/local/with-infra.sh bash -c '$(VENV)/bin/identity migrate >/dev/null && \
		$(VENV)/bin/identity staff grant "$$0" "$$1"' "$(EMAIL)" "$(ROLE)"

staff-list: install ## The staff of `make run`: roles and whether each has a second factor
	bash deploy/local/with-infra.sh $(VENV)/bin/identity staff list

# tests/containers and tests/compose need containers: make test-containers and make compose-smoke run them.
# TEST_WORKERS pytest-xdist processes share the tests; those of one service stack stay on one worker.
TEST_WORKERS ?= 4
# The docs come first: a broken link fails in seconds, not after the suite.
test: install browser docs ## Build the docs, start the infrastructure and run the whole test suite (ARGS="-k name" to narrow)
	bash deploy/local/with-infra.sh $(VENV)/bin/python -m pytest --ignore=tests/containers --ignore=tests/compose \
		-n $(TEST_WORKERS) --dist loadgroup $(ARGS)

test-young-clock: install ## The unit tests under a monotonic clock a minute from boot, as on a machine just started
	bash deploy/local/young-clock.sh $(VENV)/bin/python -m pytest tests/unit -n $(TEST_WORKERS) -q $(ARGS)

docs: install ## Build the docs site (mkdocs.yml, docs/) into site/; strict: a broken link or anchor fails
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: install ## ruff check, format check and mypy
	$(VENV)/bin/ruff check shared testkit services tests bench deploy examples
	$(VENV)/bin/ruff format --check shared testkit services tests bench deploy examples
	$(VENV)/bin/mypy shared/src/accounts_common testkit/src/accounts_testkit services/identity/src/identity \
		services/mailer/src/mailer services/catalogue/src/catalogue services/portal/src/portal \
		services/newsletter/src/newsletter
	$(VENV)/bin/mypy examples/verified-accounts-counter

format: install ## Format the code with ruff
	$(VENV)/bin/ruff format shared testkit services tests bench deploy examples
	$(VENV)/bin/ruff check --fix shared testkit services tests bench deploy examples

infra-up: install ## Start only the infrastructure (PostgreSQL, Kafka, the SMTP sink, S3Proxy)
	bash deploy/local/infra.sh up >/dev/null

infra-down: ## Stop the infrastructure
	bash deploy/local/infra.sh down

bench: install ## Run the benchmarks against the local infrastructure (BENCH="name" for one)
	bash deploy/local/with-infra.sh bash deploy/local/bench.sh $(BENCH)

chaos: install ## Break things mid-signup-burst on a private stack and print the table (ARGS="worker-kill" for one)
	$(VENV)/bin/python -m bench.chaos $(ARGS)

backup: install ## Base backup of the local PostgreSQL (WAL archived from its next start); in .state/postgres/backups
	$(VENV)/bin/python deploy/local/backup.py backup

restore: install ## Stop the local PostgreSQL, restore the newest base backup plus archived WAL (BASE=name for another; refused while sessions are connected, FORCE=1 to cut them off)
	$(VENV)/bin/python deploy/local/backup.py restore $(if $(FORCE),--force) $(BASE)

backup-drill: install ## Back up a private cluster, write, destroy its disk, restore; print lost, RPO, RTO
	$(VENV)/bin/python deploy/local/backup.py drill

clean-state: infra-down ## Stop everything and delete the local state (.state/)
	rm -rf .state

containers: install ## Build every image with Podman, offline (Debian base, PostgreSQL, Kafka, SMTP sink, services)
	bash deploy/containers/build.sh

test-containers: containers ## The integration tier with its infrastructure in containers (testcontainers on Podman)
	bash deploy/containers/test.sh $(ARGS)

compose-up: containers ## Start deploy/compose.yaml under Podman (prints the URLs)
	bash deploy/containers/compose.sh up

compose-down: ## Remove the compose stack (containers, network, volumes)
	bash deploy/containers/compose.sh down

compose-smoke: containers ## Compose up, black-box signup → mail → verify → events, compose down
	bash deploy/containers/compose.sh smoke

clean-containers: compose-down ## Remove the images, the Docker API process and the Podman state (.state/podman)
	bash deploy/containers/podman.sh clean
