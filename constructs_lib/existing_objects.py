"""Objects a construct uses but does not render, because they exist before the first sync (made by a person or
another system): named in the output, where the whole-output check (delivery/checks.py) reads them, instead of being
assumed. No cdk8s import here, so the check does not load jsii into the pipeline's own process."""

from __future__ import annotations

# Annotation of a workload (its object's metadata) naming the PersistentVolumeClaims in its namespace that its pods
# mount and that must exist before the first sync, comma-separated.
EXISTING_CLAIMS_ANNOTATION = "k8s-workloads/existing-claims"
