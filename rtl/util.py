"""Helpers shared by the RTL components (not a block: no golden twin)."""

import functools

__all__ = ["checked_init"]


def checked_init(init):
    """Decorator for a component ``__init__`` that validates its parameters: an object
    whose construction raised is never elaborated, so Amaranth's "created but never used"
    warning is silenced for it (the raised error is the message)."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except Exception:
            self._MustUse__silence = True
            raise
    return wrapper
