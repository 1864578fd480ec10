"""Where a container with a read-only root filesystem writes: the names the pod construct code (`render_pod` in
constructs_lib/container.py) and the whole-output check (delivery/checks.py) share. No cdk8s import here, so the
check does not load jsii into the pipeline's own process."""

from __future__ import annotations

# Every container's writable scratch space: programs and their runtimes (npm's cache and logs, Python's tempfile,
# nginx's buffers) write there, and with a read-only root they fail at the first write without a volume.
SCRATCH_PATH = "/tmp"
# Pod template annotation naming the containers whose props say they need no scratch space (`writable_tmp=False`),
# comma-separated: the exception is written in the output, where the check reads it, not assumed.
NO_WRITABLE_TMP_ANNOTATION = "k8s-workloads/no-writable-tmp"
