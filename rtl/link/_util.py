"""Former home of ``checked_init``, now ``neurofab.rtl.util`` (kept as a re-export only while
``boards/top.py`` lists this module among the sources it hashes)."""

from neurofab.rtl.util import checked_init

__all__ = ["checked_init"]
