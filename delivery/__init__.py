"""The delivery pipeline: settings through the engine, the whole-output checks and the sync waves, to dist/ or a diff."""
