"""The environment model and the registry of stacks: which stacks exist, what an environment's settings are."""
