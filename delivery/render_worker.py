"""Worker process of delivery.render: reads [(env, settings)], stacks pickled on stdin; writes the result on stdout."""

from __future__ import annotations

import pickle
import sys
import traceback

from delivery.runtime import use_bundled_node


def main() -> None:
    use_bundled_node()
    environments, stacks = pickle.loads(sys.stdin.buffer.read())
    from constructs_lib.errors import PropsError
    from delivery.render import render_environment

    try:
        result: tuple[str, object] = (
            "ok",
            {name: render_environment(settings, stacks) for name, settings in environments},
        )
    except PropsError as error:
        result = ("error", error)
    except Exception:
        result = ("error", traceback.format_exc())
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
