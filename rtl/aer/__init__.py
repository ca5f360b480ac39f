"""AER gateware: the event router (``router.py``)."""

from .router import AerRouter, table_words    # noqa: F401
