"""Bit-true golden model of on-chip learning (``docs/numerics.md``, "Learning").

Pair STDP, three-factor STDP with an eligibility trace, and the homeostatic offset, as the
learning core (``rtl/core.py`` with ``learning=True``) computes them. Vectorised: each
synapse is visited once per learn phase and each source's trace changes once, so the
whole phase is a handful of numpy calls.

The learning state is a dict of int64 arrays (``CoreState.learn``): ``x`` (one per
source), ``y``, ``fired``, ``theta`` (one per neuron), ``weight``, ``frac``, ``elig``
(one per synapse).
"""

import numpy as np

from neurofab import spec
from neurofab.spec import FRAC_BITS, RuleKind, TRACE_MAX, TRACE_WIDTH, TraceMode

from .lif import rtz_decay

__all__ = ["LEARN_FIELDS", "initial", "homeostatic_params", "after_update", "learn"]

#: The learning state's arrays, in the order the cosimulation compares them.
LEARN_FIELDS = ("x", "y", "fired", "theta", "weight", "frac", "elig")


def _spike(x, amp, mode):
    if int(mode) == TraceMode.NEAREST.value:
        return np.full_like(x, amp)
    return np.minimum(x + amp, TRACE_MAX)


def initial(cfg):
    """The learning state of a freshly loaded ``cfg``: traces, offsets, fractions and
    eligibilities zero, the config's weights."""
    n, s = cfg.n_neurons, cfg.n_synapses
    zeros = (lambda k: np.zeros(k, dtype=np.int64))
    return {"x": zeros(cfg.n_sources), "y": zeros(n), "fired": zeros(n), "theta": zeros(n),
            "weight": cfg.syn_weight.astype(np.int64).copy(), "frac": zeros(s),
            "elig": zeros(s)}


def homeostatic_params(params, learn, cfg):
    """The per-neuron kernel parameters of this step: the kernel's homeostasis field
    moved by ``sign * (theta >> 8)`` and clamped to its limits."""
    field, sign = cfg.kernel.homeostasis
    lo, hi = cfg.kernel.limits[field]
    out = dict(params)
    out[field] = np.clip(params[field] + sign * (learn["theta"] >> spec.THETA_FRAC_BITS),
                         lo, hi)
    return out


def after_update(learn, spike, cfg):
    """The update phase's changes of ``POST``: trace, fired flag and homeostatic offset
    of every neuron, given the bool array ``spike`` of this update."""
    lc = cfg.learning
    y_prev = np.where(learn["fired"] != 0, _spike(learn["y"], lc.post_amp, lc.mode),
                      learn["y"])
    learn["y"] = rtz_decay(y_prev, lc.post_decay)
    learn["fired"] = spike.astype(np.int64)
    prof = cfg.profile
    theta = learn["theta"] + np.where(spike, lc.up[prof], 0) - lc.down[prof]
    learn["theta"] = np.clip(theta, lc.lo[prof], lc.hi[prof])


def learn(learn_state, pre, cfg, modulator):
    """The learn phase: ``pre`` is the bool array (one per source) of this step's pre
    events. Changes ``x`` of every source with a plastic synapse below ``LEARN_END`` and
    ``weight``, ``frac``, ``elig`` of those synapses."""
    lc, st = cfg.learning, learn_state
    k = np.flatnonzero(lc.syn_rule[:lc.learn_end] != 0)
    if k.size == 0:
        return
    src = cfg.syn_source[k]
    tgt = cfg.syn_target[k]
    rule = lc.syn_rule[k]
    srcs = np.unique(src)
    decayed = rtz_decay(st["x"][srcs], lc.pre_decay)
    st["x"][srcs] = np.where(pre[srcs], _spike(decayed, lc.pre_amp, lc.mode), decayed)
    x = st["x"][src]
    y = st["y"][tgt]
    dep = np.where(pre[src], (lc.a_minus[rule] * y) >> TRACE_WIDTH, 0)
    pot = np.where(st["fired"][tgt] != 0, (lc.a_plus[rule] * x) >> TRACE_WIDTH, 0)
    stdp = pot - dep
    wf = (st["weight"][k] << FRAC_BITS) + st["frac"][k]
    lo = lc.w_min[rule] << FRAC_BITS
    hi = lc.w_max[rule] << FRAC_BITS
    rstdp = lc.kind[rule] == RuleKind.RSTDP.value
    e = np.clip(rtz_decay(st["elig"][k], lc.elig_decay[rule]) + stdp,
                spec.ELIG_MIN, spec.ELIG_MAX)
    change = np.where(rstdp, (int(modulator) * e) >> lc.m_shift[rule], stdp)
    wf = np.clip(wf + change, lo, hi)
    st["elig"][k] = np.where(rstdp, e, st["elig"][k])
    st["weight"][k] = wf >> FRAC_BITS
    st["frac"][k] = wf & ((1 << FRAC_BITS) - 1)
