"""OpenKruise's own manifests through kubectl: the CRD (installed at start) re-applied
unchanged client- and server-side, Kruise's CloneSet sample applied, printed with the CRD's
columns, scaled through /scale and patched (merge) on its partition."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clusters.simulator.bootstrap import CRD_DIR

from . import api_client_fixture, core_fixture, kubesim_fixture, namespace_fixture, wait_for  # noqa: F401

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CRD = CRD_DIR / "apps.kruise.io_clonesets.yaml"
SAMPLE = Path(__file__).parent / "data" / "apps_v1alpha1_cloneset.yaml"  # kruise v1.9.0 config/samples


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")
def test_kruise_crd_and_sample_with_kubectl(kubesim, namespace, tmp_path):
    kubeconfig = str(kubesim.server.cluster("sim-a").kubeconfig_path)

    def kubectl(*args):
        result = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"),
                                 "-n", namespace, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    assert "clonesets.apps.kruise.io" in kubectl("get", "crd")  # installed when the cluster started
    assert "customresourcedefinition.apiextensions.k8s.io/clonesets.apps.kruise.io" in kubectl(
        "apply", "-f", str(CRD))
    assert "serverside-applied" in kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    assert "clone" in kubectl("api-resources", "--api-group", "apps.kruise.io")

    assert "cloneset.apps.kruise.io/sample created" in kubectl("apply", "-f", str(SAMPLE))

    def columns():
        """kubectl's table as {header: cell}, cut at the header's offsets (an unset cell is blank)."""
        head, row = kubectl("get", "clonesets").splitlines()[:2]
        found = list(re.finditer(r"\S+", head))
        names, starts = [m.group() for m in found], [m.start() for m in found]
        ends = starts[1:] + [None]
        return {n: row[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)}

    row = wait_for(lambda: (r := columns())["READY"] == "5" and r, message="5 ready")
    assert list(row) == ["NAME", "DESIRED", "UPDATED", "UPDATED_READY", "UPDATED_AVAILABLE", "READY", "TOTAL", "AGE"]
    assert (row["NAME"], row["DESIRED"], row["UPDATED"], row["UPDATED_READY"], row["TOTAL"]) == (
        "sample", "5", "5", "5", "5")
    wide = kubectl("get", "clone", "sample", "-o", "wide")
    assert "nginx:alpine" in wide and "app=sample" in wide

    as_yaml = kubectl("get", "cloneset", "sample", "-o", "yaml")
    assert "type: InPlaceIfPossible" in as_yaml and "updateRevision: sample-" in as_yaml
    assert "cloneset.apps.kruise.io/sample scaled" in kubectl("scale", "cloneset", "sample", "--replicas=3")
    wait_for(lambda: columns()["TOTAL"] == "3", message="scaled down to 3")
    kubectl("patch", "cloneset", "sample", "--type", "merge", "-p", '{"spec":{"updateStrategy":{"partition":"50%"}}}')
    # (kubectl set image knows only built-in kinds; a JSON patch is how one changes a CloneSet's image)
    kubectl("patch", "cloneset", "sample", "--type", "json", "-p",
            '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27-alpine"}]')
    row = wait_for(lambda: (r := columns())["UPDATED_READY"] == "1" and r["READY"] == "3" and r,
                   message="one pod updated (50% of 3 kept, rounded up)")
    assert row["UPDATED"] == "1"
    assert "partition: 50%" in kubectl("get", "cloneset", "sample", "-o", "yaml")
    pods = kubectl("get", "pods", "-l", "app=sample", "-o",
                   "jsonpath={range .items[*]}{.status.containerStatuses[0].restartCount}{' '}{end}").split()
    assert sorted(pods) == ["0", "0", "1"]  # updated in place: one restart, no new pod
    assert 'cloneset.apps.kruise.io "sample" deleted' in kubectl("delete", "cloneset", "sample")
    wait_for(lambda: kubectl("get", "pods", "-l", "app=sample", "-o", "name") == "", message="pods collected")
