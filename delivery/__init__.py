"""Rendering machinery: settings loading, the stack registry, synthesis and the dist/ writer."""
