"""Neuron kernels: the neuron models a core can run, by name.

A kernel is one :class:`Kernel` object. It declares, each in one place:

* its per-neuron **state** and its **profile** (parameters) as ``neurofab.spec`` layouts,
  with the legal range of every parameter and a silent profile (module
  ``neurofab.spec.<kernel>``: ``STATE``, ``PROFILE``, ``LIMITS``, ``SILENT``);
* its vectorised **golden** update (module ``neurofab.golden.<kernel>``)::

      step(state, acc, params) -> (state', spike)
      initial_state(params) -> state
      stepper(params, state) -> f: f(acc) -> fired, f.state()   # optional

  ``state`` and ``state'`` map every ``STATE`` field to an int64 array (one entry per
  neuron), ``acc`` is the int64 array of this step's accumulator slot (signed
  ``ACC_WIDTH`` bits, the synaptic input: how it feeds the state is the kernel's
  business, written in ``docs/numerics.md``), ``params`` maps every ``PROFILE`` field to
  the per-neuron int64 array of the neuron's profile, ``spike`` is a bool array;
  ``initial_state`` is the state a configuration starts from (after load and reset);
  ``stepper``, where a module has it, is the same update for many steps of fixed
  parameters, keeping the state itself (``Kernel.stepper``; the fast golden core,
  ``golden/batch.py``, runs it);
* its pipelined **RTL** update (``neurofab.rtl.<kernel>``), a ``wiring.Component``
  without constructor arguments whose ports are ``i_valid``, ``i_state``
  (``spec.state_word(STATE)``), ``i_acc`` (``signed(ACC_WIDTH)``), ``i_params``
  (``PROFILE``), ``o_valid``, ``o_state``, ``o_spike``, and whose class attribute
  ``LATENCY`` is the exact number of clocks from ``i_valid`` to ``o_valid``. It accepts
  one update every ``ii`` clocks (the initiation interval, 1 for every kernel here) and
  never stalls; the ``profile`` field of the state word passes through unchanged.

Budgets: a state-memory word (``STATE`` plus the 4-bit profile index) and a ``PROFILE``
word each fit the memory port's ``spec.MEM_DATA_WIDTH`` = 80 bits (``STATE`` at most 76
bits); ``LATENCY`` is at most 8; every multiplier's operands are at most 18 bits signed.

``cosim/kernel.py`` proves a kernel's RTL against its golden update alone;
``neurofab.models`` holds the float models that quantise to a kernel's profile.

The core (``rtl/core.py``, ``golden/core.py``), ``CoreConfig``, the memory map, the host
link, the co-simulation and the board tops take any kernel; ``docs/architecture.md``
("Neuron kernels") says how to add one.
"""

import importlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurofab import spec

__all__ = ["Kernel", "KERNELS", "get_kernel", "DEFAULT_KERNEL"]

#: The kernel of a configuration that names none (every file written before kernels).
DEFAULT_KERNEL = "cuba-lif"


@dataclass(frozen=True, eq=False)
class Kernel:
    """One neuron model (see the module documentation for the contract).

    Parameters
    ----------
    name : str
        The kernel's name (``--kernel`` on the command line).
    module : str
        The stem of its three modules: ``neurofab.spec.<module>``,
        ``neurofab.golden.<module>`` and ``neurofab.rtl.<module>``.
    rtl_class : str
        Name of the RTL component in ``neurofab.rtl.<module>``.
    summary : str
        One line for ``neurofab kernels``.
    ii : int
        Initiation interval of the RTL update (clocks between two neurons).
    """
    name: str
    module: str
    rtl_class: str
    summary: str
    ii: int = 1

    def __repr__(self):
        return f"<Kernel {self.name}>"

    # a kernel is a constant: copies of a config share it, pickles name it
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        if KERNELS.get(self.name) is self:
            return (get_kernel, (self.name,))
        return (Kernel, (self.name, self.module, self.rtl_class, self.summary, self.ii))

    # --- declarations (neurofab.spec.<module>) ----------------------------------------
    @cached_property
    def _spec(self):
        return importlib.import_module(f"neurofab.spec.{self.module}")

    @property
    def kernel_id(self):
        """The kernel's number (``spec.KERNEL_IDS``): IDENTIFY, board builds."""
        return spec.KERNEL_IDS[self.name]

    @property
    def state(self):
        """Layout of the per-neuron state."""
        return self._spec.STATE

    @property
    def profile(self):
        """Layout of one profile (the parameters)."""
        return self._spec.PROFILE

    @property
    def limits(self):
        """``{parameter: (lo, hi)}``, inclusive, for every profile field."""
        return self._spec.LIMITS

    @property
    def silent(self):
        """A profile (``{parameter: int}``) under which a neuron without input never fires."""
        return self._spec.SILENT

    @property
    def homeostasis(self):
        """``(field, sign)``: the profile field a homeostatic offset moves and its sign
        (``docs/numerics.md``, "Learning"), or ``None`` for a kernel without one."""
        return getattr(self._spec, "HOMEOSTASIS", None)

    def is_silent(self, params):
        """Whether a neuron of profile ``params`` (``{parameter: int}``) that starts from
        the initial state and never gets input never fires: the golden module's
        ``is_silent`` if it has one, else ``params`` equals :attr:`silent`."""
        test = getattr(self._golden, "is_silent", None)
        if test is not None:
            return bool(test(params))
        return all(int(params[name]) == int(value) for name, value in self.silent.items())

    @cached_property
    def state_fields(self):
        """Names of the state fields, in layout order."""
        return tuple(name for name, _ in self.state)

    @cached_property
    def param_fields(self):
        """Names of the profile fields, in layout order."""
        return tuple(name for name, _ in self.profile)

    @cached_property
    def state_word(self):
        """Layout of a state-memory word: the state, then the profile index."""
        return spec.state_word(self.state)

    @cached_property
    def word_widths(self):
        """Width of one word of each memory region on a core of this kernel (the memory
        port and the host link carry these)."""
        return spec.region_word_widths(self.state_word, self.profile)

    @cached_property
    def word_bytes(self):
        """Bytes of one word of each region on the host link."""
        return spec.region_word_byte_counts(self.state_word, self.profile)

    @property
    def state_bits(self):
        """Bits of state per neuron (without the profile index)."""
        return self.state.size

    # --- golden model (neurofab.golden.<module>) --------------------------------------
    @cached_property
    def _golden(self):
        return importlib.import_module(f"neurofab.golden.{self.module}")

    def step(self, state, acc, params):
        """One update of every neuron: ``(state', spike)`` (see the module documentation)."""
        return self._golden.step(state, acc, params)

    def initial_state(self, params):
        """The state every neuron starts from, given its per-neuron parameters."""
        return self._golden.initial_state(params)

    def stepper(self, params, state):
        """The update for many steps of fixed ``params``, from ``state`` (arrays of one
        shape, neurons last, e.g. ``(batch, n_neurons)``; ``params`` broadcast to it).

        Returns an object ``f``: ``f(acc)`` does one :meth:`step` with this step's ``acc``
        (of the state's shape) and returns the flat indices of the fired neurons, sorted;
        ``f.state()`` is the current state (``{field: int64 array}``). The golden module's
        ``stepper(params, state)`` if it has one (faster, same numbers), else a loop of
        :meth:`step`."""
        make = getattr(self._golden, "stepper", None)
        if make is not None:
            return make(params, state)
        return _Stepper(self, params, state)

    # --- RTL (neurofab.rtl.<module>) --------------------------------------------------
    @property
    def rtl(self):
        """The RTL component class (imports Amaranth RTL on first use)."""
        module = importlib.import_module(f"neurofab.rtl.{self.module}")
        return getattr(module, self.rtl_class)

    @property
    def latency(self):
        """Clocks from a neuron's update entering the RTL kernel to its result."""
        return self.rtl.LATENCY

    def cost(self):
        """iCE40 cost of the kernel's RTL alone: ``synth_ice40 -dsp`` cell counts
        (``lut``, ``ff``, ``carry``, ``dsp``); runs Yosys (tens of seconds)."""
        from neurofab.rtl.encoders.cost import synth_ice40
        c = synth_ice40(self.rtl(), dsp=True)
        return {k: c[k] for k in ("lut", "ff", "carry", "dsp")}

    def as_dict(self):
        """Name, sizes and timing, as ``neurofab kernels --json`` prints them."""
        return {"name": self.name, "id": self.kernel_id, "summary": self.summary,
                "state_bits": self.state_bits, "profile_bits": self.profile.size,
                "state_fields": list(self.state_fields),
                "param_fields": list(self.param_fields),
                "ii": self.ii, "latency": self.latency}


class _Stepper:
    """``Kernel.stepper`` of a golden module without one: :meth:`Kernel.step` per call."""

    def __init__(self, kernel, params, state):
        self.kernel, self.params = kernel, params
        self.neurons = {k: np.asarray(v, dtype=np.int64).copy() for k, v in state.items()}

    def __call__(self, acc):
        self.neurons, spike = self.kernel.step(self.neurons, acc, self.params)
        return np.flatnonzero(spike)

    def state(self):
        return {k: np.asarray(v, dtype=np.int64).copy() for k, v in self.neurons.items()}


#: Every kernel by name, in ``spec.KERNEL_IDS`` order.
KERNELS = {k.name: k for k in (
    Kernel("cuba-lif", "lif", "CubaLif",
           "current-based leaky integrate-and-fire (two exponential decays, reset, "
           "refractory period)"),
    Kernel("alif", "alif", "Alif",
           "adaptive LIF: spike-triggered threshold adaptation (LSNN / e-prop ALIF)"),
    Kernel("izhikevich", "izhikevich", "Izhikevich",
           "Izhikevich (2003): quadratic v, recovery u, reset v <- c, u <- u + d"),
    Kernel("adex", "adex", "AdEx",
           "adaptive exponential integrate-and-fire (Brette-Gerstner 2005)"),
)}
assert list(KERNELS) == list(spec.KERNEL_IDS)


def get_kernel(kernel):
    """The :class:`Kernel` named ``kernel`` (or ``kernel`` itself if it is one)."""
    if isinstance(kernel, Kernel):
        return kernel
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel = {kernel!r} is not a neuron kernel (available: "
                         f"{', '.join(KERNELS)})")
    return KERNELS[kernel]


def check_params(kernel, params, *, where="profile"):
    """Refuse a profile dict that misses a field, names an unknown one or holds a value
    outside its limit; returns it with int64 array values."""
    kernel = get_kernel(kernel)
    unknown = sorted(set(params) - set(kernel.param_fields))
    if unknown:
        raise ValueError(f"{where}: {unknown[0]!r} is not a parameter of kernel "
                         f"{kernel.name} (parameters: {', '.join(kernel.param_fields)})")
    out = {}
    for name in kernel.param_fields:
        if name not in params:
            raise ValueError(f"{where}: parameter {name!r} of kernel {kernel.name} is missing")
        arr = np.asarray(params[name])
        lo, hi = kernel.limits[name]
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{where}: {name} must hold integers, not {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            k = int(np.flatnonzero(bad.ravel())[0])
            raise ValueError(f"{where}: {name}[{k}] = {int(arr.ravel()[k])} is outside the "
                             f"limit [{lo}, {hi}] of kernel {kernel.name}")
        out[name] = arr
    return out
