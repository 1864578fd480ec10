"""One package per system: `settings.py` (typed settings, no cdk8s import) and `chart.py` (the cdk8s Chart)."""
