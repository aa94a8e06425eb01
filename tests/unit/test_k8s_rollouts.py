"""A rollout of deploy/k8s loses no request: a pod behind a Service is told to stop at the moment it is
taken out of the Service's endpoints, which the nodes follow a few seconds later. So every container
that takes requests first pauses (preStop), then drains, and its grace period covers both (the edge's
own drain: test_k8s_edge.py)."""

import pytest

from accounts_common.process import GRACEFUL_TIMEOUT_S
from tests.unit.test_k8s_manifests import containers, web_deployments

DEFAULT_GRACE_S = 30  # Kubernetes' terminationGracePeriodSeconds when a pod sets none


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
