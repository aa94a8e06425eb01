"""What the docs state as fact about the code, checked against the code itself.

README.md and the pages under docs/ name environment variables, metrics, make targets, commands,
topics and images, and give defaults; each must still be what the code reads, exports, runs or
builds, so a renamed setting or a removed metric fails here instead of sending an operator after
something that is not there.
"""

import argparse
import ast
import functools
import importlib
import re
from pathlib import Path

import pytest
import yaml

from accounts_common.config import READ_ELSEWHERE
from accounts_common.events.topics import TOPICS
from accounts_common.kafka import KafkaLogin
from catalogue.settings import Settings as CatalogueSettings
from identity.settings import RateLimits
from identity.settings import Settings as IdentitySettings
from mailer.settings import Settings as MailerSettings
from newsletter.settings import Settings as NewsletterSettings
from portal.settings import Settings as PortalSettings

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SETTINGS = (
    IdentitySettings,
    MailerSettings,
    CatalogueSettings,
    NewsletterSettings,
    PortalSettings,
    KafkaLogin,
)
# Variables under these prefixes are the services' settings (or the shared Kafka and SMTP ones).
PREFIXED = re.compile(r"\b((?:IDENTITY|MAILER|CATALOGUE|NEWSLETTER|PORTAL|SMTP|KAFKA)_[A-Z0-9_]*[A-Z0-9])\b")
SHELL_VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]+)")
ENVIRONMENT_READERS = {"env_str", "env_int", "getenv"}


def page_text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


@functools.cache
def named_in_docs(pattern: re.Pattern[str]) -> dict[str, list[str]]:
    """Each match of `pattern` in the pages, with the pages that name it."""
    found: dict[str, list[str]] = {}
    for page in PAGES:
        for name in sorted(set(pattern.findall(page_text(page)))):
            found.setdefault(name, []).append(str(page.relative_to(REPO)))
    return found


def reads_environment(function: ast.expr) -> bool:
    if isinstance(function, ast.Attribute):
        from_environ = function.attr == "get" and "environ" in ast.unparse(function)
        return function.attr in ENVIRONMENT_READERS or from_environ
    return isinstance(function, ast.Name) and function.id in ENVIRONMENT_READERS


def read_by_python(roots: list[Path]) -> set[str]:
    """Names passed as a string to os.environ.get, os.getenv, env_str, env_int or os.environ[...]."""
    names: set[str] = set()
    for path in (file for root in roots for file in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                if reads_environment(node.func) and isinstance(node.args[0].value, str):
                    names.add(node.args[0].value)
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                if isinstance(node.slice.value, str) and "environ" in ast.unparse(node.value):
                    names.add(node.slice.value)
    return names


def read_by_scripts() -> set[str]:
    """Every variable the deploy scripts expand (their defaults: ${NAME:-...})."""
    scripts = (REPO / "deploy").rglob("*.sh")
    return {name for script in scripts for name in SHELL_VARIABLE.findall(page_text(script))}


@functools.cache
def known_variables() -> set[str]:
    settings = set().union(*(settings.variables() for settings in SETTINGS))
    python = read_by_python([REPO / "shared" / "src", REPO / "services", REPO / "bench", REPO / "deploy"])
    return settings | python | read_by_scripts() | READ_ELSEWHERE


def test_the_variable_finder_skips_prefixes_and_placeholders():
    text = "`IDENTITY_PORT`, `IDENTITY_RATE_LIMIT_<SCOPE>_PER_IP`, `IDENTITY_RATE_LIMIT_`, `_MEMORY_KIB`"
    assert PREFIXED.findall(text) == ["IDENTITY_PORT"]


@pytest.mark.parametrize("variable", sorted(named_in_docs(PREFIXED)))
def test_every_variable_the_docs_name_is_read_by_the_code(variable):
    pages = named_in_docs(PREFIXED)[variable]
    assert variable in known_variables(), (
        f"{', '.join(pages)} name {variable}, which no Settings class, script or benchmark reads"
    )


RATE_LIMIT_COLUMNS = ("per_ip", "per_email", "per_email_all")


def rate_limit_rows() -> dict[str, list[str]]:
    """The rows of the rate-limit table in docs/operating/settings.md: scope → its three cells."""
    text = page_text(REPO / "docs" / "operating" / "settings.md")
    table = text.split("**Rate limits**", 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| `")]
    return {cells[0].strip().split("`")[1]: [cell.strip() for cell in cells[1:]] for cells in rows}


def test_the_rate_limit_table_gives_every_limit_and_its_default():
    limits = RateLimits()
    expected: dict[str, list[str]] = {}
    for name, limit in vars(limits).items():
        scope, column = next(
            (name.removesuffix(f"_{c}"), c) for c in RATE_LIMIT_COLUMNS[::-1] if name.endswith(c)
        )
        cells = expected.setdefault(scope, ["", "", ""])
        cells[RATE_LIMIT_COLUMNS.index(column)] = f"{limit.hits}/{limit.window_s}"
    documented = {scope: [cell.split(" ")[0] for cell in cells] for scope, cells in rate_limit_rows().items()}
    assert documented == expected


# The service whose worker (identity: its audit-log) consumes a topic, as the topic table names it.
CONSUMING_SERVICES = ("identity", "mailer", "catalogue", "newsletter")


def consumed_topics(service: str) -> set[str]:
    """The topics the service's command line hands its consumers (a `topics` value or keyword)."""
    module = importlib.import_module(f"{service}.entrypoints.cli")
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    values = [node.value for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "topics"]
    values += [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and "topics" in ast.unparse(node.targets[0]).lower()
    ]
    topics: set[str] = set()
    for name in (node.id for value in values for node in ast.walk(value) if isinstance(node, ast.Name)):
        found = getattr(module, name, None)
        for topic in found if isinstance(found, tuple) else (found,):
            if topic in {declared.name for declared in TOPICS}:
                topics.add(topic)
    return topics


def topic_table_readers() -> dict[str, str]:
    """The architecture overview's topic table: topic → its "read by" cell."""
    text = page_text(REPO / "docs" / "architecture" / "index.md")
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("| `")]
    return {cells[0].strip().split("`")[1]: cells[2] for cells in rows}


def test_every_service_consumes_some_topic():
    assert all(consumed_topics(service) for service in CONSUMING_SERVICES)


@pytest.mark.parametrize("service", CONSUMING_SERVICES)
def test_the_topic_table_names_each_topic_a_service_reads(service):
    readers = topic_table_readers()
    unnamed = sorted(topic for topic in consumed_topics(service) if service not in readers.get(topic, ""))
    assert unnamed == [], (
        f"docs/architecture/index.md: {service} reads {unnamed}, not in their 'read by' cell"
    )


# A metric in the docs: a backquoted name with a Prometheus unit or type suffix.
METRIC = re.compile(r"`([a-z]+(?:_[a-z0-9]+)*_(?:total|seconds|rows|lag|busy|bytes))`")


def test_the_metric_finder_takes_metric_names_only():
    text = "`consumer_lag`, `outbox_parked_rows > 0`, `housekeeping_seconds`, `catalogue_upload`"
    assert METRIC.findall(text) == ["consumer_lag", "housekeeping_seconds"]


@pytest.mark.parametrize("metric", sorted(named_in_docs(METRIC)))
def test_every_metric_the_docs_name_is_exported(metric):
    from tests.unit.test_observability import exported_metrics

    assert metric in exported_metrics(), (
        f"{', '.join(named_in_docs(METRIC)[metric])} name {metric}: not exported"
    )


MAKE_TARGET = re.compile(r"`make ([a-z][a-z-]*)")


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", page_text(REPO / "Makefile"), re.MULTILINE))


@pytest.mark.parametrize("target", sorted(named_in_docs(MAKE_TARGET)))
def test_every_make_target_the_docs_name_exists(target):
    assert target in makefile_targets(), (
        f"{', '.join(named_in_docs(MAKE_TARGET)[target])}: no `make {target}`"
    )


SERVICE_COMMAND = re.compile(
    r"`(?:\.venv/bin/)?((?:identity|mailer|catalogue|newsletter|portal) [a-z][^`]*)`"
)


def test_the_command_finder_takes_commands_with_their_options():
    text = "`mailer bounces --maildir DIR [--watch SECONDS]`, `identity web`, `identity relay (and)`"
    assert SERVICE_COMMAND.findall(text)[:2] == [
        "mailer bounces --maildir DIR [--watch SECONDS]",
        "identity web",
    ]


@pytest.mark.parametrize("command", sorted(named_in_docs(SERVICE_COMMAND)))
def test_every_service_command_the_docs_name_exists_with_its_options(command):
    service, name, *rest = command.split()
    commands = importlib.import_module(f"{service}.entrypoints.cli").cli.commands
    assert name in commands, f"{', '.join(named_in_docs(SERVICE_COMMAND)[command])}: no `{service} {name}`"
    parser = argparse.ArgumentParser()
    commands[name].arguments(parser)
    options = {word.strip("[]") for word in rest if word.strip("[]").startswith("--")}
    assert options <= set(parser._option_string_actions), f"`{service} {name}` takes no {options}"


def test_the_deployment_page_lists_every_image_make_containers_builds():
    script = page_text(REPO / "deploy" / "containers" / "build.sh")
    built = set(re.findall(r"\bbuild \"?(localhost/[a-z0-9.:-]*[a-z0-9])(?![\w$-])", script))
    built |= {image for name, image in re.findall(r"^(\w+)=(localhost/[a-z0-9.:-]+)$", script, re.MULTILINE)}
    listed = set(re.findall(r"`(localhost/[a-z0-9.:<>-]+)`", page_text(REPO / "docs" / "deployment.md")))
    assert len(built) > 5
    assert built - listed == set(), "docs/deployment.md: add these to the images `make containers` builds"


def section(page: Path, heading: str) -> str:
    """The text under `heading` up to the next heading of its level or above."""
    text = page_text(page).split(f"\n{heading}\n", 1)[1]
    level = heading.count("#")
    return re.split(rf"\n#{{1,{level}}} ", text, maxsplit=1)[0]


def test_the_topic_table_of_the_event_contracts_gives_each_topic_its_events():
    lines = section(REPO / "docs" / "events.md", "## Topics").splitlines()
    rows = [line.strip("|").split("|") for line in lines if line.startswith("| `")]
    listed = {cells[0].strip().strip("`"): cells[1] for cells in rows}
    for topic in (topic for topic in TOPICS if topic.events):
        assert topic.name in listed, f"docs/events.md: no row for {topic.name}"
        missing = [
            event for event in topic.events if event not in listed[topic.name] and event != "AccountState"
        ]
        assert missing == [], f"docs/events.md: {topic.name} carries {missing} too"


def test_the_runbook_table_gives_each_alert_its_severity():
    rules = yaml.safe_load(page_text(REPO / "deploy" / "observability" / "alerts.yaml"))
    alerts = {
        rule["alert"]: rule["labels"]["severity"] for group in rules["groups"] for rule in group["rules"]
    }
    rows = [
        line.strip("|").split("|")
        for line in page_text(REPO / "docs" / "runbooks" / "README.md").splitlines()
    ]
    table = {
        cells[0].strip(): cells[1].strip() for cells in rows if len(cells) == 3 and cells[0].strip() in alerts
    }
    assert table == alerts


# A problem the docs name with its status: 403 `role-required`, or `503 dead-letters-unavailable`.
PROBLEM = re.compile(r"\b([1-5]\d\d)\)? `([a-z]+(?:-[a-z]+)+)`|`([1-5]\d\d) ([a-z]+(?:-[a-z]+)+)`")


def status_and_type(node: ast.AST) -> tuple[object, object] | None:
    """(status, type) of a `Problem(403, "role-required", ...)`, `problem_response(503, slug="...")` or an
    error table's `(401, "mfa-required", ...)`."""
    values = node.args if isinstance(node, ast.Call) else node.elts if isinstance(node, ast.Tuple) else []
    slugs = [word.value for word in getattr(node, "keywords", []) if word.arg == "slug"]
    constants = [value.value for value in [*values[:2], *slugs] if isinstance(value, ast.Constant)]
    if len(constants) >= 2 and isinstance(constants[0], int) and isinstance(constants[1], str):
        return constants[0], constants[1]
    return None


@functools.cache
def problems_in_code() -> set[tuple[object, object]]:
    files = [*(REPO / "shared" / "src").rglob("*.py"), *(REPO / "services").rglob("*.py")]
    nodes = (node for path in files for node in ast.walk(ast.parse(page_text(path))))
    return {pair for pair in map(status_and_type, nodes) if pair}


def problems_in_docs() -> list[tuple[int, str]]:
    found = (match.groups() for page in PAGES for match in PROBLEM.finditer(page_text(page)))
    return sorted({(int(a or c), b or d) for a, b, c, d in found})


@pytest.mark.parametrize(("status", "kind"), problems_in_docs())
def test_every_problem_the_docs_name_is_answered_with_that_status(status, kind):
    assert (status, kind) in problems_in_code(), f"no service answers {status} {kind}"


def test_the_deployment_page_names_every_image_compose_lets_one_override():
    compose = page_text(REPO / "deploy" / "compose.yaml") + page_text(REPO / "deploy" / "compose.s3.yaml")
    variables = set(re.findall(r"\$\{(ACCOUNTS_[A-Z0-9_]+_IMAGE):-", compose))
    page = page_text(REPO / "docs" / "deployment.md")
    folders = (path for path in (REPO / "services").iterdir() if path.is_dir())
    services = {f"ACCOUNTS_{path.name.upper()}_IMAGE" for path in folders}
    named = set(re.findall(r"`(ACCOUNTS_[A-Z0-9_]+_IMAGE)`", page))
    named |= services if "`ACCOUNTS_<SERVICE>_IMAGE`" in page else set()
    assert len(variables) > 5
    assert variables - named == set(), "docs/deployment.md: compose lets these images be overridden too"
