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


def environments_problem() -> str | None:
    """Why there is nothing to render, if so: no environments folder, or no settings file in it."""
    where = f"ENVIRONMENTS_DIR={ENVIRONMENTS_DIR}" if "ENVIRONMENTS_DIR" in os.environ else str(ENVIRONMENTS_DIR)
    if not ENVIRONMENTS_DIR.exists():
        return f"{where}: no such folder; it must hold one <environment>.yaml settings file per environment"
    if not ENVIRONMENTS_DIR.is_dir():
        return f"{where}: not a folder; it must hold one <environment>.yaml settings file per environment"
    if not available_environments():
        return (
            f"{where}: no <environment>.yaml settings files in it; refusing to render zero environments "
            f"(committed, that would make Argo CD remove every workload)"
        )
    return None
