"""Golden models of the AER blocks (``rtl/aer``)."""

from .router import (RouteResult, route, route_step, compare_routed,    # noqa: F401
                     check_bounded, Mismatch)
