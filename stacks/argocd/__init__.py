"""Argo CD: the AppProject, one Application per stack and the root app of apps of one environment."""
