"""`PropsError`, the constructs' error for a bad prop. It is defined with the rules that raise it
(value_types.errors); this name stays for the command line and the render workers that catch it."""

from value_types.errors import PropsError

__all__ = ["PropsError"]
