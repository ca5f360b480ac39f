"""neurofab: hardware-first co-design of spiking neural networks on FPGAs."""

from .config import CoreConfig, DoesNotFit, Network, compile  # noqa: F401

__version__ = "0.1.0"
