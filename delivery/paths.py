"""Where the project's files are (no pydantic or cdk8s import: the command line needs these before either)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ENVIRONMENTS_DIR points the app at another folder of environment files (tests, a separate config repo).
ENVIRONMENTS_DIR = Path(os.environ.get("ENVIRONMENTS_DIR", ROOT / "environments")).resolve()
SCHEMA_PATH = ROOT / "schema" / "settings.schema.json"


def available_environments() -> list[str]:
    """The environments, one per YAML file in environments/, sorted by name."""
    return sorted(path.stem for path in ENVIRONMENTS_DIR.glob("*.yaml"))
