"""What a change does to the rendered output, per resource, the way a reviewer reads it (in the spirit of helm-diff
and dyff): objects added, removed and renamed, and for changed ones the field paths with old and new values.

Every changed, renamed or removed object is also classified (`delivery/upgrade_rules.py`): changes the API server
refuses as an update, and deletions that take data with them, are reported first, under a warning heading, with
what to do instead.

Values that could be credentials are never printed: anything under a credential-like key (or env variable name),
everything in a Secret, and wherever it stands a credential-shaped part of any other value or key (a URL's user
name and password, an Authorization token, a long random key: value_types/credentials.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from delivery.upgrade_rules import Finding, Impact, classify_change, classify_removal, classify_rename
from value_types.credentials import REDACTED as REDACTED  # what stands for a hidden value, here as in messages
from value_types.credentials import looks_secret, redact_credentials

# A removed and an added object of the same kind in the same folder, at least this similar, were renamed.
RENAME_SIMILARITY = 0.8
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REFERENCE_KEYS = frozenset({"secretKeyRef", "secretRef", "secretName", "secretStoreRef", "imagePullSecrets"})


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any  # `Missing` when the field was added
    new: Any  # `Missing` when the field was removed


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


Missing = _Missing()


@dataclass
class ResourceDiff:
    status: str  # added | removed | changed | renamed
    path: str  # file path under dist/ (the new one for renames)
    resource: str  # Kind/name
    old_path: str | None = None
    changes: list[FieldChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def impact(self) -> Impact:
        return max((finding.impact for finding in self.findings), default=Impact.IN_PLACE)

    def changes_under(self, path: str) -> list[FieldChange]:
        """The changed leaves at or below `path`; none for "" (a finding about the whole object)."""
        if not path:
            return []
        return [c for c in self.changes if c.path == path or c.path.startswith((f"{path}.", f"{path}["))]


@dataclass
class DiffReport:
    resources: list[ResourceDiff]

    @property
    def has_changes(self) -> bool:
        return bool(self.resources)

    def count(self, status: str) -> int:
        return sum(1 for resource in self.resources if resource.status == status)

    @property
    def impact(self) -> Impact:
        """The worst impact of any change: what `diff --exit-code` reports."""
        return max((resource.impact for resource in self.resources), default=Impact.IN_PLACE)

    @property
    def not_in_place(self) -> list[ResourceDiff]:
        """Resources with a change that is not a plain in-place update, worst first."""
        flagged = [resource for resource in self.resources if resource.impact > Impact.IN_PLACE]
        return sorted(flagged, key=lambda r: -r.impact)


def diff_trees(old: Mapping[str, str], new: Mapping[str, str]) -> DiffReport:
    """Compare two {path: YAML text} trees (e.g. `delivery.output.read_tree` of dist/ and of a fresh render)."""
    return diff_documents(
        {path: yaml.load(text, Loader=_Loader) for path, text in old.items()},
        {path: yaml.load(text, Loader=_Loader) for path, text in new.items()},
    )


def diff_documents(old_docs: Mapping[str, Any], new_docs: Mapping[str, Any]) -> DiffReport:
    """Compare two {path: object} trees, already parsed (see `main.py diff`: the compared folder is read with the
    bounds of a hostile file, as it may come from anywhere)."""
    resources: list[ResourceDiff] = []
    for path in sorted(old_docs.keys() & new_docs.keys()):
        changes = field_changes(old_docs[path], new_docs[path])
        if changes:
            findings = _classified(classify_change, old_docs[path], new_docs[path])
            resources.append(
                ResourceDiff("changed", path, _resource(new_docs[path]), changes=changes, findings=findings)
            )
    removed = sorted(old_docs.keys() - new_docs.keys())
    added = sorted(new_docs.keys() - old_docs.keys())
    for old_path in list(removed):
        match = _renamed_to(old_path, old_docs[old_path], [(p, new_docs[p]) for p in added])
        if match is None:
            continue
        removed.remove(old_path)
        added.remove(match)
        resources.append(
            ResourceDiff(
                "renamed",
                match,
                _resource(new_docs[match]),
                old_path=old_path,
                changes=field_changes(old_docs[old_path], new_docs[match]),
                findings=_classified(classify_rename, old_docs[old_path], new_docs[match]),
            )
        )
    resources.extend(
        ResourceDiff("removed", path, _resource(old_docs[path]), findings=_classified(classify_removal, old_docs[path]))
        for path in removed
    )
    resources.extend(ResourceDiff("added", path, _resource(new_docs[path])) for path in added)
    order = {"removed": 0, "renamed": 1, "changed": 2, "added": 3}
    resources.sort(key=lambda r: (r.path.rsplit("/", 1)[0], order[r.status], r.path))
    return DiffReport(resources)


def _classified(classify: Callable[..., list[Finding]], *docs: Any) -> list[Finding]:
    """`classify(*docs)` when every document is an object (a YAML file could hold anything)."""
    return classify(*docs) if all(isinstance(doc, dict) for doc in docs) else []


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    """Leaf-level changes between two objects, paths like `spec.template.spec.containers[app].image`."""
    secret = _kind(old) == "Secret" or _kind(new) == "Secret"
    old_leaves, new_leaves = flatten(old), flatten(new)
    changes = []
    for path in sorted(old_leaves.keys() | new_leaves.keys()):
        before, after = old_leaves.get(path, Missing), new_leaves.get(path, Missing)
        if before == after:
            continue
        if secret or _sensitive(path):
            before = REDACTED if before is not Missing else before
            after = REDACTED if after is not Missing else after
        # Compared before redacting: a changed password in a URL shows as a change, with both sides redacted.
        changes.append(FieldChange(redact_credentials(path), _redacted(before), _redacted(after)))
    return changes


def _redacted(value: Any) -> Any:
    """A leaf with its credential-shaped parts hidden (only text can hold one)."""
    return redact_credentials(value) if isinstance(value, str) else value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf path -> value. List items that have distinct `name`s are addressed by name, so an inserted container
    or env variable shows as one addition, not as every later item changing."""
    if isinstance(value, dict):
        if not value:
            return {prefix: {}} if prefix else {}
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    if isinstance(value, list):
        if not value:
            return {prefix: []}
        names = [item.get("name") for item in value if isinstance(item, dict)]
        by_name = len(names) == len(value) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
        leaves = {}
        for index, item in enumerate(value):
            label = item["name"] if by_name else str(index)
            leaves.update(flatten(item, f"{prefix}[{label}]"))
        return leaves
    return {prefix: value}


def _sensitive(path: str) -> bool:
    """A value under a credential-like key, or the value of an env variable named like a credential. Keys that
    only name a Secret (secretKeyRef, secretName, ...) are references, not values."""
    parts = [part for part in path.replace("[", ".[").split(".") if part]
    if not parts:
        return False
    last = parts[-1].strip("[]")
    if looks_secret(last) and last not in _REFERENCE_KEYS:
        return True
    # env[API_TOKEN].value
    return last == "value" and len(parts) >= 2 and looks_secret(parts[-2].strip("[]"))


def _renamed_to(old_path: str, old_doc: Any, candidates: Iterable[tuple[str, Any]]) -> str | None:
    folder = old_path.rsplit("/", 1)[0]
    old_leaves = set(_comparable(old_doc).items())
    best, best_score = None, RENAME_SIMILARITY
    for path, doc in candidates:
        if path.rsplit("/", 1)[0] != folder or _kind(doc) != _kind(old_doc):
            continue
        new_leaves = set(_comparable(doc).items())
        union = old_leaves | new_leaves
        score = len(old_leaves & new_leaves) / len(union) if union else 1.0
        if score >= best_score:
            best, best_score = path, score
    return best


def _comparable(doc: Any) -> dict[str, str]:
    return {path: repr(value) for path, value in flatten(doc).items() if path != "metadata.name"}


def _kind(doc: Any) -> str | None:
    return doc.get("kind") if isinstance(doc, dict) else None


def _resource(doc: Any) -> str:
    if not isinstance(doc, dict):
        return "?"
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def _value(value: Any) -> str:
    if value is Missing:
        return "(none)"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("\n...").strip()
    return text if len(text) <= 200 else text[:197] + "..."


WARNING_HEADING = "⚠️ Changes that cannot be applied in place"
# A rule about a whole pod template can match dozens of leaves; the full list follows in the per-resource diff.
_LEAVES_SHOWN = 8


def format_text(report: DiffReport) -> str:
    if not report.has_changes:
        return "No differences: dist/ matches the sources.\n"
    lines = []
    if report.not_in_place:
        lines += [WARNING_HEADING, ""]
        for resource in report.not_in_place:
            lines.append(f"{resource.impact.label.upper()}: {_heading(resource)}")
            for finding in resource.findings:
                lines.append(f"    {finding.field or '(the object)'}: {finding.reason} [{finding.impact.label}]")
                lines += [f"        {leaf}" for leaf in _leaves(resource, finding, "{path}: {old} -> {new}")]
                lines.append(f"      what to do: {finding.advice}")
                lines.append(f"      rule: {finding.source}")
            lines.append("")
        lines += [_impact_summary(report), "", "All changes:"]
    marks = {"added": "+", "removed": "-", "changed": "~", "renamed": ">"}
    for resource in report.resources:
        head = f"{marks[resource.status]} {resource.status:<8} {resource.path}  ({resource.resource})"
        if resource.old_path:
            head += f"  from {resource.old_path}"
        if resource.impact > Impact.IN_PLACE:
            head += f"  [{resource.impact.label}]"
        lines.append(head)
        for change in resource.changes:
            lines.append(f"    {change.path}: {_value(change.old)} -> {_value(change.new)}")
    lines.append("")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def format_markdown(report: DiffReport) -> str:
    if not report.has_changes:
        return "### Rendered manifests\n\nNo differences: `dist/` matches the sources.\n"
    lines = []
    if report.not_in_place:
        lines += [f"### {WARNING_HEADING}", "", _impact_summary(report), ""]
        for resource in report.not_in_place:
            lines += [f"**{resource.impact.label}**: {_heading(resource, code=True)}", ""]
            for finding in resource.findings:
                lines.append(f"- `{finding.field or '(the object)'}`: {finding.reason} ({finding.impact.label})")
                leaves = _leaves(resource, finding, "{path}: {old} → {new}")
                if leaves:
                    lines += ["  ```", *(f"  {leaf}" for leaf in leaves), "  ```"]
                lines.append(f"  - What to do: {finding.advice}")
                lines.append(f"  - Rule: {finding.source}")
            lines.append("")
    lines += ["### Rendered manifests", "", _summary(report), ""]
    folders: dict[str, list[ResourceDiff]] = {}
    for resource in report.resources:
        folders.setdefault(resource.path.rsplit("/", 1)[0], []).append(resource)
    for folder, resources in folders.items():
        lines.append(f"#### `{folder}`")
        lines.append("")
        lines.append("| change | resource | file |")
        lines.append("| --- | --- | --- |")
        for resource in resources:
            file_name = resource.path.rsplit("/", 1)[1]
            if resource.old_path:
                file_name = f"{resource.old_path.rsplit('/', 1)[1]} → {file_name}"
            status = resource.status
            if resource.impact > Impact.IN_PLACE:
                status += f" ⚠️ {resource.impact.label}"
            lines.append(f"| {status} | `{resource.resource}` | `{file_name}` |")
        detailed = [r for r in resources if r.changes]
        if detailed:
            lines.append("")
            lines.append("```diff")
            for resource in detailed:
                lines.append(f"# {resource.resource}")
                for change in resource.changes:
                    if change.old is not Missing:
                        lines.append(f"- {change.path}: {_value(change.old)}")
                    if change.new is not Missing:
                        lines.append(f"+ {change.path}: {_value(change.new)}")
            lines.append("```")
        lines.append("")
    return "\n".join(lines)


def _summary(report: DiffReport) -> str:
    return ", ".join(f"{report.count(status)} {status}" for status in ("changed", "added", "removed", "renamed"))


def _heading(resource: ResourceDiff, code: bool = False) -> str:
    quote = "`" if code else ""
    head = f"{quote}{resource.resource}{quote} in {quote}{resource.path}{quote} ({resource.status}"
    if resource.old_path:
        head += f" from {quote}{resource.old_path}{quote}"
    return head + ")"


def _leaves(resource: ResourceDiff, finding: Finding, template: str) -> list[str]:
    changes = resource.changes_under(finding.field)
    lines = [template.format(path=c.path, old=_value(c.old), new=_value(c.new)) for c in changes[:_LEAVES_SHOWN]]
    if len(changes) > _LEAVES_SHOWN:
        lines.append(f"... and {len(changes) - _LEAVES_SHOWN} more (all changes are listed below)")
    return lines


def _impact_summary(report: DiffReport) -> str:
    counts = {impact: 0 for impact in Impact if impact > Impact.IN_PLACE}
    for resource in report.not_in_place:
        counts[resource.impact] += 1
    parts = [f"{count} {impact.label}" for impact, count in sorted(counts.items(), reverse=True) if count]
    return "Not in place: " + ", ".join(parts) + "."
