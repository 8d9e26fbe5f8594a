"""Fixtures of the deployment-file checks: the compose file and the Kubernetes manifests, parsed once."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.files import COMPOSE, K8S, Doc, load_yaml


@pytest.fixture(scope="module")
def compose() -> Doc:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def k8s() -> list[Doc]:
    docs: list[Doc] = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open() as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs
