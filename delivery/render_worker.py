"""Worker process of delivery.render: imports what rendering needs while the parent loads settings, then reads
[(env, settings, stacks)] pickled on stdin and writes {env: {stack: objects}} (or the error) on stdout."""

from __future__ import annotations

import gc
import os
import pickle
import sys
import traceback
from concurrent.futures import Future, ThreadPoolExecutor

from delivery.runtime import speed_up_jsii_serialisation, use_bundled_node


def main() -> None:
    use_bundled_node()
    # Warm up before the parent sends work: these imports are most of a worker's cost.
    import cdk8s  # noqa: F401

    speed_up_jsii_serialisation()
    import cdk8s_plus_27  # noqa: F401

    import constructs_lib.app_service  # noqa: F401
    import delivery.settings  # noqa: F401  (unpickling the settings needs the models)
    from constructs_lib.errors import PropsError
    from delivery.output import OutputError, write_stack
    from delivery.render import render_environment

    # A worker lives for seconds and builds many small containers; the cyclic collector would keep re-scanning them
    # (and the imported modules) for garbage there is next to none of.
    gc.freeze()
    gc.disable()
    payload = sys.stdin.buffer.read()
    if not payload:  # started but not needed
        return
    jobs = pickle.loads(payload)
    try:
        rendered = {}
        # Files are written on a second thread: while this one waits for Node (most of a render), the other
        # emits the YAML of what is already rendered.
        with ThreadPoolExecutor(max_workers=1) as writer:
            writes: list[Future[None]] = []
            for env, settings, stacks, folders in jobs:
                rendered[env] = render_environment(settings, stacks, env)
                if folders is not None:
                    writes.extend(
                        writer.submit(write_stack, folders[stack], manifests)
                        for stack, manifests in rendered[env].items()
                    )
            for write in writes:
                write.result()
        result: tuple[str, object] = ("ok", rendered)
    except (PropsError, OutputError) as error:
        result = ("error", error)
    except Exception:
        result = ("error", traceback.format_exc())
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()
    # The parent reads to end of file: close now rather than after jsii's orderly shutdown of its Node process
    # (about half a second), which the parent would otherwise wait for. Node exits when its pipe closes.
    os.close(sys.stdout.fileno())
    os._exit(0)


if __name__ == "__main__":
    main()
