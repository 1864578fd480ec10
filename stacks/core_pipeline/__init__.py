"""The core-pipeline NestJS service (seed: core-pipeline-helm.md)."""
