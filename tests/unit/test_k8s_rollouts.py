"""A rollout of deploy/k8s loses no request: a pod behind a Service is told to stop at the moment it is
taken out of the Service's endpoints, which the nodes follow a few seconds later. So every container
that takes requests first pauses (preStop), then drains, and its grace period covers both (the edge's
own drain: test_k8s_edge.py)."""

import pytest

from accounts_common.process import GRACEFUL_TIMEOUT_S
from tests.unit.test_k8s_manifests import containers, of_kind, web_deployments

DEFAULT_GRACE_S = 30  # Kubernetes' terminationGracePeriodSeconds when a pod sets none
# How long a finished migration Job stays for its logs to be read, before the next apply may create it anew.
MIGRATION_JOB_KEPT_MAX_S = 600


def paused_seconds(container: dict) -> int:  # type: ignore[type-arg]
    sleep, seconds = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == "sleep"
    return int(seconds)


@pytest.mark.parametrize("deployment", web_deployments(), ids=lambda doc: doc["metadata"]["name"])
def test_every_container_of_a_web_pod_pauses_before_it_stops_and_has_the_time_to_drain(deployment):
    spec = deployment["spec"]["template"]["spec"]
    for container in containers(deployment["spec"]["template"]):
        pause = paused_seconds(container)
        assert 3 <= pause <= 15, container["name"]
        assert spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S) >= pause + GRACEFUL_TIMEOUT_S


@pytest.mark.parametrize("job", of_kind("Job"), ids=lambda doc: doc["metadata"]["name"])
def test_every_migration_job_is_deleted_once_finished_so_the_next_apply_runs_it_again(job):
    """A Job runs once. Applied again unchanged, a finished one stays finished, and the migrations of
    the images pushed since never run; changed (a new image tag), apply refuses its immutable pod
    template. Deleted a while after it finishes, it is created anew by the next `kubectl apply -k`."""
    assert [container["command"][1:] for container in containers(job["spec"]["template"])] == [["migrate"]]
    assert 0 < job["spec"].get("ttlSecondsAfterFinished", -1) <= MIGRATION_JOB_KEPT_MAX_S
