"""CUBA-LIF kernel formats: its per-neuron state, its profile, their legal ranges.

The layouts themselves live in :mod:`neurofab.spec.core` (``NeuronState``, ``Profile``),
where the core was first written for this one kernel; this module states them in the
form every kernel declares (``docs/architecture.md``, "Neuron kernels"):

* ``STATE`` — the kernel's per-neuron state (the core's state word adds ``profile``);
* ``PROFILE`` — the parameters shared by the neurons of a profile;
* ``LIMITS`` — the inclusive legal range of every ``PROFILE`` field;
* ``SILENT`` — a profile under which a neuron that receives no input never fires (the
  compiler gives it to padding neurons).
"""

from amaranth import signed, unsigned
from amaranth.lib import data

from .core import (DECAY_ONE, NeuronState, Profile, REF_MAX, REF_WIDTH, Reset, STATE_MAX,
                   STATE_MIN, STATE_WIDTH)

__all__ = ["STATE", "PROFILE", "LIMITS", "SILENT"]

STATE = data.StructLayout({
    "i": signed(STATE_WIDTH),
    "v": signed(STATE_WIDTH),
    "ref": unsigned(REF_WIDTH),
})
PROFILE = Profile
assert [n for n, _ in NeuronState][:-1] == [n for n, _ in STATE]

LIMITS = {
    "decay_i": (0, DECAY_ONE),
    "decay_v": (0, DECAY_ONE),
    "threshold": (1, STATE_MAX),
    "bias": (STATE_MIN, STATE_MAX),
    "v_reset": (STATE_MIN, STATE_MAX),
    "reset": (0, 1),
    "refractory": (0, REF_MAX),
}

#: ``i = v = 0`` without input and ``bias = 0``: ``v`` stays 0, below every threshold.
SILENT = {"decay_i": 0, "decay_v": 0, "threshold": STATE_MAX, "bias": 0, "v_reset": 0,
          "reset": Reset.TO_VRESET.value, "refractory": 0}

#: The profile field a homeostatic offset moves, and its sign (``docs/numerics.md``,
#: "Learning"): a rising offset raises the threshold.
HOMEOSTASIS = ("threshold", 1)
