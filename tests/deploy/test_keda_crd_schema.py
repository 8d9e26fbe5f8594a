"""The KEDA ScaledObjects against KEDA's own schema: @kubernetes-models/keda (npm, MIT) carries JSON
schemas generated from KEDA's API types; it is installed at test time (pinned), not kept in the repo.
Our stricter subset (test_schemas_and_alerts.py) also rejects unknown fields, which KEDA's schema allows."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

from tests.deploy.files import KEDA, ROOT, Doc, load_yaml
from tests.support.npm import npm_install

PACKAGE = "@kubernetes-models/keda@0.4.2"  # generated from KEDA v2's apis; runs on node 20


def validate(docs: list[Doc]) -> subprocess.CompletedProcess[str]:
    prefix = npm_install(PACKAGE, "@kubernetes-models/keda")
    script = prefix / "validate_keda.mjs"  # node resolves the package from the script's folder
    shutil.copy(ROOT / "tests" / "support" / "validate_keda.mjs", script)
    return subprocess.run(
        ["node", str(script)], input=json.dumps(docs), capture_output=True, text=True, timeout=120, check=False
    )


def test_every_scaled_object_passes_kedas_schema() -> None:
    docs = [load_yaml(path) for path in KEDA]
    assert len(docs) == 5  # one for every pool
    out = validate(docs)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(line.split()[1] for line in out.stdout.splitlines()) == sorted(d["metadata"]["name"] for d in docs)


def test_kedas_schema_rejects_what_keda_would_refuse() -> None:
    base = load_yaml(KEDA[0])
    wrong_count, no_type, number_metadata = copy.deepcopy(base), copy.deepcopy(base), copy.deepcopy(base)
    wrong_count["spec"]["minReplicaCount"] = "two"
    wrong_count["metadata"]["name"] = "wrong-count"
    del no_type["spec"]["triggers"][0]["type"]
    no_type["metadata"]["name"] = "no-type"
    number_metadata["spec"]["triggers"][0]["metadata"]["answer"] = 42  # KEDA takes strings only
    number_metadata["metadata"]["name"] = "number-metadata"
    out = validate([wrong_count, no_type, number_metadata])
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "invalid wrong-count",
        "invalid no-type",
        "invalid number-metadata",
    ]
    assert "minReplicaCount" in lines[0] and "type" in lines[1] and "answer" in lines[2]
