"""Every co-simulated block by name: ``neurofab cosim --block B --backend K`` has one code
path, :func:`cosim_block`.

``BLOCKS`` maps a block name to the builder of its cases, ``"module:function"`` inside
``neurofab.cosim`` (imported on first use, so listing the blocks imports no block) or the
builder itself. A
builder is ``make(rng, steps, **params)``: it draws a random valid instance (the
parameters not given in ``params``) and random stimulus from ``rng``, computes the golden
expectation and returns a case for :func:`neurofab.cosim.engine.run`.

Registering a block is one line here; see ``docs/architecture.md``, "Adding a block".
"""

import importlib

import numpy as np

from .engine import BACKENDS, run

__all__ = ["BLOCKS", "LINK_BLOCKS", "OPTIONS", "DEFAULT_STEPS", "builder", "make_case", "cosim_block",
           "backends_of"]

#: block name -> ``"module:function"`` of its case builder (in ``neurofab.cosim``)
BLOCKS = {
    "core": "core:make",
    "router": "aer:make",
    "fabric": "fabric:make",
    "encoded-core": "encoded_core:make",
    "lfsr": "encoders:make_lfsr",
    "sobol": "encoders:make_sobol",
    "sng": "encoders:make_sng",
    "sc-mul": "encoders:make_sc_mul",
    "sc-add": "encoders:make_sc_add",
    "sc-div": "encoders:make_sc_div",
    "sc-tanh": "encoders:make_sc_tanh",
    "sc-count": "encoders:make_sc_count",
    "rate": "encoders:make_rate",
    "latency": "encoders:make_latency",
    "delta": "encoders:make_delta",
    "population": "encoders:make_population",
    "uart-rx": "link:uart_rx_case",
    "uart-tx": "link:uart_tx_case",
    "cobs-dec": "link:cobs_dec_case",
    "cobs-enc": "link:cobs_enc_case",
    "crc16": "link:crc16_case",
    "link-controller": "link:link_controller_case",
}

#: the host-link blocks of ``BLOCKS`` (``cosim/link.py``)
LINK_BLOCKS = ("uart-rx", "uart-tx", "cobs-dec", "cobs-enc", "crc16", "link-controller")

#: the command line's block options (``--neurons``, ``--cores``, ``--inputs``, ``--kernel``,
#: ``--learning``) each block takes, by builder keyword
OPTIONS = {"core": ("neurons", "inputs_per_step", "kernel", "learning"), "router": ("cores",),
           "fabric": ("cores",)}

#: steps of a run when none are given
DEFAULT_STEPS = 20

#: the seed stream of every block's builder (fixed: a seed names one case forever)
_STREAM = 0xB10C


def builder(block):
    """The case builder of ``block``."""
    if block not in BLOCKS:
        raise ValueError(f"--block {block}: unknown block (available: {', '.join(BLOCKS)})")
    if callable(BLOCKS[block]):
        return BLOCKS[block]
    module, name = BLOCKS[block].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def backends_of(block):
    """The back ends ``block`` runs on (every one of :data:`BACKENDS` today)."""
    builder(block)
    return BACKENDS


def make_case(block, seed=0, steps=DEFAULT_STEPS, params=None):
    """The case of ``block`` for ``seed``; the block parameters named in the dict
    ``params`` are fixed, the others drawn from ``seed`` (so is the stimulus)."""
    make = builder(block)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps = {steps!r} must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r} must be a non-negative integer")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    return make(rng, int(steps), **(params or {}))


def cosim_block(block, *, backend="amaranth", seed=0, steps=None, gap=0.3, stall=0.3,
                vcd_path=None, progress=None, params=None, workdir=None):
    """Co-simulate ``block`` (a name in :data:`BLOCKS`): a random valid instance and
    stimulus from ``seed`` (``params`` fixes chosen parameters), RTL against golden.

    Returns a :class:`~neurofab.cosim.engine.CosimResult` (``.summary()``, ``.report()``).
    """
    case = make_case(block, seed, DEFAULT_STEPS if steps is None else steps, params)
    return run(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
               progress=progress, workdir=workdir)
