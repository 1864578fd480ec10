"""Value types: the bottom layer. Each Kubernetes (or project) rule for a value is written once here and gives both
the settings error (pydantic, with the field's path) and the construct's `PropsError`. No cdk8s import: the settings
loader uses this package without starting the jsii runtime.

Modules:
    rules: what a rule is (`TextRule`, `ParsedRule`, `NumberRule`, `matching`): pydantic metadata and
        `rule.require(construct, prop, value)` for props.
    errors: `PropsError`, the constructs' error for a bad prop.
    model: `StrictModel`, the base of every settings model.
    names: DNS labels and names, host names, label keys and values, Secret keys, CIDRs, namespaces.
    hosts: URLs, origins, HTTP methods and header names.
    credentials: what looks like a credential, and redaction for messages.
    quantities: CPU and memory quantities, `ResourceSettings`.
    images: image tags and repositories, mutable tags, `ImageSettings`.
    ports: the port range.
    schedules: cron schedules, time zones, refresh intervals, durations.
    workloads: `AutoscalingSettings`, `SecretKey`, Redis settings, `HttpProbeSettings`.
"""
