"""How charts become objects: the only code that knows jsii's internals, worker processes and Node kernels."""
