"""On-chip learning: the integer tables of a learning core and the float rules users write.

``Learning`` is what a ``CoreConfig`` carries (``cfg.learning``): the core-wide trace
parameters, the rule table, the homeostasis table per profile and the rule index of every
synapse, as integers (``docs/numerics.md``, "Learning"). ``STDP``, ``RSTDP`` and
``Homeostasis`` are the same rules in physical units (ms, weight units, Hz); ``Network``
takes them per projection / population and ``compile`` quantises them, with a
``LearnReport`` saying what rounding did.
"""

import math
from dataclasses import dataclass

import numpy as np

from neurofab import spec
from neurofab.checks import check_int, check_range
from neurofab.models.base import check_float, decay_of
from neurofab.spec import (AMP_MAX, HOMEO_FIELDS, RULE_COUNT, RULE_FIELDS, RuleKind,
                           TRACE_MAX, TraceMode)

__all__ = ["Learning", "STDP", "RSTDP", "Homeostasis", "LearnReport", "RULE_LIMITS",
           "HOMEO_LIMITS", "TRACE_LIMITS"]

#: Inclusive range of every core-wide trace parameter.
TRACE_LIMITS = {"pre_decay": (0, spec.DECAY_ONE), "pre_amp": (0, TRACE_MAX),
                "post_decay": (0, spec.DECAY_ONE), "post_amp": (0, TRACE_MAX),
                "mode": (0, 1)}
#: Inclusive range of every rule parameter.
RULE_LIMITS = {"kind": (0, 1), "a_plus": (0, AMP_MAX), "a_minus": (0, AMP_MAX),
               "w_min": (spec.WEIGHT_MIN, spec.WEIGHT_MAX),
               "w_max": (spec.WEIGHT_MIN, spec.WEIGHT_MAX),
               "elig_decay": (0, spec.DECAY_ONE), "m_shift": (0, spec.M_SHIFT_MAX)}
#: Inclusive range of every homeostasis parameter.
HOMEO_LIMITS = {"up": (0, spec.HOMEO_STEP_MAX), "down": (0, spec.HOMEO_STEP_MAX),
                "lo": (spec.THETA_MIN, spec.THETA_MAX), "hi": (spec.THETA_MIN, spec.THETA_MAX)}


def _int_array(name, values, n=None):
    arr = np.asarray(values)
    if arr.dtype == bool or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold integers, not {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.ndim != 1 or (n is not None and arr.size != n):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)" if n is not None
                         else f"{name} must be one-dimensional, not shape {arr.shape}")
    return arr


class Learning:
    """The learning tables of one core, as integers.

    Parameters
    ----------
    syn_rule : int array, shape (n_synapses,)
        Rule of every synapse (in CSR order): 0 = static, 1 .. ``RULE_COUNT - 1`` an
        entry of the rule table.
    pre_decay, pre_amp, post_decay, post_amp, mode : int
        Core-wide trace parameters (``spec.Traces``; ``mode``: ``TraceMode``).
    kind, a_plus, a_minus, w_min, w_max, elig_decay, m_shift : int arrays
        The rule table (``spec.Rule``), ``RULE_COUNT`` entries; entry 0 (static) is all
        zeros. Missing: zeros.
    up, down, lo, hi : int arrays
        The homeostasis table (``spec.Homeo``), one entry per profile of the config
        (missing: zeros, i.e. no homeostasis).
    """

    def __init__(self, syn_rule, *, pre_decay=0, pre_amp=0, post_decay=0, post_amp=0,
                 mode=0, **tables):
        unknown = sorted(set(tables) - set(RULE_FIELDS) - set(HOMEO_FIELDS))
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a learning parameter (traces: "
                             f"{', '.join(TRACE_LIMITS)}; rules: {', '.join(RULE_FIELDS)}; "
                             f"homeostasis: {', '.join(HOMEO_FIELDS)})")
        self.syn_rule = _int_array("syn_rule", syn_rule)
        for name, value in zip(TRACE_LIMITS, (pre_decay, pre_amp, post_decay, post_amp,
                                              getattr(mode, "value", mode))):
            setattr(self, name, check_int(name, value, *TRACE_LIMITS[name]))
        for name in RULE_FIELDS:
            value = tables.get(name, np.zeros(RULE_COUNT, dtype=np.int64))
            if name == "kind":
                value = [getattr(v, "value", v) for v in np.atleast_1d(
                    np.asarray(value, dtype=object))]
            setattr(self, name, _int_array(name, value, RULE_COUNT))
        self._homeo_given = {name: name in tables for name in HOMEO_FIELDS}
        for name in HOMEO_FIELDS:
            setattr(self, name, _int_array(name, tables.get(name, [])))

    # --- derived -----------------------------------------------------------------------
    @property
    def learn_end(self):
        """Synapses the learn phase visits: the last plastic synapse + 1 (0: none)."""
        plastic = np.flatnonzero(self.syn_rule != 0)
        return int(plastic[-1]) + 1 if plastic.size else 0

    def rule_table(self):
        return {name: getattr(self, name) for name in RULE_FIELDS}

    def homeo_table(self):
        return {name: getattr(self, name) for name in HOMEO_FIELDS}

    def traces(self):
        return {name: getattr(self, name) for name in TRACE_LIMITS}

    def with_profiles(self, n_profiles):
        """This learning with the homeostasis table padded by zero entries (or created)
        to ``n_profiles`` entries."""
        tables = {}
        for name in HOMEO_FIELDS:
            arr = getattr(self, name)
            if arr.size > n_profiles:
                raise ValueError(f"{name} has {arr.size} entries, more than the "
                                 f"{n_profiles} profiles")
            tables[name] = np.concatenate([arr, np.zeros(n_profiles - arr.size, np.int64)])
        return Learning(self.syn_rule, **self.traces(), **self.rule_table(), **tables)

    def with_rules(self, syn_rule):
        """This learning with another ``syn_rule`` array (same tables)."""
        return Learning(syn_rule, **self.traces(), **self.rule_table(), **self.homeo_table())

    def arrays(self):
        """Every field as an int64 array (the ``.nfcfg`` fields ``learn_<name>``)."""
        out = {"syn_rule": self.syn_rule}
        out.update({k: np.asarray(v, dtype=np.int64) for k, v in self.traces().items()})
        out.update(self.rule_table())
        out.update(self.homeo_table())
        return out

    def __eq__(self, other):
        if not isinstance(other, Learning):
            return NotImplemented
        a, b = self.arrays(), other.arrays()
        return all(np.array_equal(a[k], b[k]) for k in a)

    def __repr__(self):
        used = sorted(set(self.syn_rule[self.syn_rule != 0].tolist()))
        return (f"<Learning: {int((self.syn_rule != 0).sum())} plastic synapses, rules "
                f"{used}, homeostasis on {int((self.up != 0).sum() + (self.down != 0).sum() > 0)}>")

    # --- validation --------------------------------------------------------------------
    def validate(self, cfg):
        """Raise ``ValueError`` naming field, value and limit; ``cfg`` is the owning
        ``CoreConfig`` (synapse count, profiles, kernel)."""
        if self.syn_rule.size != cfg.n_synapses:
            raise ValueError(f"syn_rule has {self.syn_rule.size} entries, expected "
                             f"{cfg.n_synapses} (one per synapse)")
        check_range("syn_rule", self.syn_rule, 0, RULE_COUNT - 1)
        for name in RULE_FIELDS:
            arr = getattr(self, name)
            check_range(name, arr, *RULE_LIMITS[name])
            if arr[0] != 0:
                raise ValueError(f"{name}[0] = {int(arr[0])}: rule 0 is the static rule, its "
                                 f"entry must be 0")
        bad = np.flatnonzero(self.w_min > self.w_max)
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"rule {k}: w_min = {int(self.w_min[k])} is above w_max = "
                             f"{int(self.w_max[k])}")
        plastic = self.syn_rule != 0
        if plastic.any():
            rule = self.syn_rule[plastic]
            w = cfg.syn_weight[plastic]
            out = np.flatnonzero((w < self.w_min[rule]) | (w > self.w_max[rule]))
            if out.size:
                k = int(np.flatnonzero(plastic)[out[0]])
                r = int(self.syn_rule[k])
                raise ValueError(f"syn_weight[{k}] = {int(cfg.syn_weight[k])} is outside the "
                                 f"bounds [{int(self.w_min[r])}, {int(self.w_max[r])}] of its "
                                 f"rule {r}")
        for name in HOMEO_FIELDS:
            arr = getattr(self, name)
            if arr.size != cfg.n_profiles:
                raise ValueError(f"{name} has {arr.size} entries, expected one per profile "
                                 f"({cfg.n_profiles})")
            check_range(name, arr, *HOMEO_LIMITS[name])
        bad = np.flatnonzero(self.lo > self.hi)
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"profile {k}: homeostasis lo = {int(self.lo[k])} is above hi = "
                             f"{int(self.hi[k])}")
        homeo = (self.up != 0) | (self.down != 0) | (self.lo != 0) | (self.hi != 0)
        if homeo.any() and cfg.kernel.homeostasis is None:
            raise ValueError(f"kernel {cfg.kernel.name} has no field a homeostatic offset "
                             f"can move: homeostasis must be zero")
        return self


# --- float rules -------------------------------------------------------------------
def _positive(name, value):
    """A finite number > 0 (a time constant, a step)."""
    return check_float(name, value, 0, lo_open=True)


@dataclass
class LearnReport:
    """What quantising a learning rule did: the integers chosen and the effective values."""
    rows: list

    def as_dict(self):
        return {"parameters": [dict(r) for r in self.rows]}

    def __str__(self):
        lines = [f"{'parameter':<28}{'given':>12}{'integer':>10}{'effective':>12}{'rel. error':>12}"]
        for r in self.rows:
            err = r["rel_error"]
            lines.append(f"{r['name']:<28}{r['given']:>12.5g}{r['integer']:>10}"
                         f"{r['effective']:>12.5g}{'' if err is None else f'{err:>12.2%}'}")
        return "\n".join(lines)


def _row(name, given, integer, effective):
    err = None if given == 0 else abs(effective - given) / abs(given)
    return {"name": name, "given": float(given), "integer": int(integer),
            "effective": float(effective), "rel_error": err}


#: The trace value a pre or post spike adds (all-to-all) or sets (nearest): a quarter of
#: the range, so that four overlapping spikes fit before the trace saturates.
TRACE_AMP = 1024


@dataclass(frozen=True)
class STDP:
    """Pair STDP in physical units.

    Parameters
    ----------
    a_plus, a_minus : float
        Weight change, in weight units (one LSB of the 8-bit weight), of a pre→post
        (potentiation) and a post→pre (depression) pair at zero time difference.
        Resolution 1/1024 weight unit, at most 64 (``AMP_MAX``/1024).
    tau_plus, tau_minus : float
        Time constants of the pre- and post-synaptic traces, in ms.
    w_min, w_max : int
        Hard bounds of the weight (weight units).
    nearest : bool
        Nearest-neighbour pairing (``TraceMode.NEAREST``) instead of all-to-all.
    """
    a_plus: float = 1.0
    a_minus: float = 1.0
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: int = 0
    w_max: int = 127
    nearest: bool = False

    kind = RuleKind.STDP

    def __post_init__(self):
        for name in ("a_plus", "a_minus"):
            check_float(name, getattr(self, name), 0, AMP_MAX / TRACE_AMP)
        for name in ("tau_plus", "tau_minus"):
            _positive(name, getattr(self, name))
        for name in ("w_min", "w_max"):
            check_int(name, getattr(self, name), spec.WEIGHT_MIN, spec.WEIGHT_MAX)
        if self.w_min > self.w_max:
            raise ValueError(f"w_min = {self.w_min} is above w_max = {self.w_max}")
        if not isinstance(self.nearest, (bool, np.bool_)):
            raise TypeError(f"nearest must be True or False, not {self.nearest!r}")

    def traces(self, dt):
        """The core-wide trace integers (``spec.Traces``) for step ``dt`` ms."""
        dt = _positive("dt", dt)
        return {"pre_decay": decay_of(self.tau_plus, dt), "pre_amp": TRACE_AMP,
                "post_decay": decay_of(self.tau_minus, dt), "post_amp": TRACE_AMP,
                "mode": (TraceMode.NEAREST if self.nearest else TraceMode.ALL_TO_ALL).value}

    def rule(self, dt):
        """The rule-table integers (``spec.Rule``) for step ``dt`` ms."""
        # a pair at distance 0 changes wf by (a * TRACE_AMP) >> 12 = a / 4 fine units
        # (1/256 weight unit each): a = weight units * 256 * 4
        scale = (1 << spec.FRAC_BITS) * (1 << spec.TRACE_WIDTH) / TRACE_AMP
        return {"kind": self.kind.value, "a_plus": int(round(self.a_plus * scale)),
                "a_minus": int(round(self.a_minus * scale)), "w_min": int(self.w_min),
                "w_max": int(self.w_max), "elig_decay": 0, "m_shift": 0}

    def report(self, dt):
        """The ``LearnReport`` of quantising at ``dt`` ms."""
        tr, ru = self.traces(dt), self.rule(dt)
        scale = (1 << spec.FRAC_BITS) * (1 << spec.TRACE_WIDTH) / TRACE_AMP
        rows = [_row("a_plus (weight units)", self.a_plus, ru["a_plus"], ru["a_plus"] / scale),
                _row("a_minus (weight units)", self.a_minus, ru["a_minus"],
                     ru["a_minus"] / scale)]
        for name, tau, key in (("tau_plus (ms)", self.tau_plus, "pre_decay"),
                               ("tau_minus (ms)", self.tau_minus, "post_decay")):
            keep = 1 - tr[key] / spec.DECAY_ONE
            eff = math.inf if keep >= 1 else (0.0 if keep <= 0 else -dt / math.log(keep))
            rows.append(_row(name, tau, tr[key], eff))
        return LearnReport(rows)


@dataclass(frozen=True)
class RSTDP(STDP):
    """Three-factor (reward-modulated) STDP: the STDP term of :class:`STDP` goes into the
    synapse's eligibility trace, which decays with ``tau_e`` (ms); every step the weight
    changes by ``M * e * lr`` where ``M`` is the modulator (``Board.set_modulator``) and
    ``lr = 2**-m_shift``."""
    tau_e: float = 200.0
    m_shift: int = 8

    kind = RuleKind.RSTDP

    def __post_init__(self):
        super().__post_init__()
        _positive("tau_e", self.tau_e)
        check_int("m_shift", self.m_shift, 0, spec.M_SHIFT_MAX)

    def rule(self, dt):
        out = super().rule(dt)
        out.update(kind=self.kind.value, elig_decay=decay_of(self.tau_e, _positive("dt", dt)),
                   m_shift=int(self.m_shift))
        return out


@dataclass(frozen=True)
class Homeostasis:
    """Homeostatic threshold: each neuron's offset ``theta`` (in units of the kernel's
    threshold field) rises by ``eta`` on a spike and falls by ``eta * r`` every step
    (``r = target_rate * dt``, the target spikes per step), inside ``[lo, hi]``: it is
    stationary where the neuron fires at ``target_rate``. ``eta`` sets how fast (the
    time constant is about ``1 / (eta * r)`` steps per threshold unit of error).

    Parameters
    ----------
    target_rate : float
        Hz.
    eta : float
        Threshold units a spike adds; resolution 1/16 (``THETA_FRAC_BITS``).
    lo, hi : float
        Bounds of the offset, threshold units.
    """
    target_rate: float = 10.0
    eta: float = 1.0
    lo: float = -32.0
    hi: float = 32.0

    def __post_init__(self):
        _positive("target_rate", self.target_rate)
        unit = 1 << spec.THETA_FRAC_BITS
        check_float("eta", self.eta, 0, spec.HOMEO_STEP_MAX / unit)
        check_float("lo", self.lo, spec.THETA_MIN / unit, spec.THETA_MAX / unit)
        check_float("hi", self.hi, spec.THETA_MIN / unit, spec.THETA_MAX / unit)
        if self.lo > self.hi:
            raise ValueError(f"lo = {self.lo} is above hi = {self.hi}")

    def table(self, dt):
        """The homeostasis-table integers (``spec.Homeo``) at ``dt`` ms."""
        dt = _positive("dt", dt)
        r = self.target_rate * dt / 1000.0
        if r >= 1:
            raise ValueError(f"target_rate = {self.target_rate} Hz is one spike per step or "
                             f"more at dt = {dt} ms")
        unit = 1 << spec.THETA_FRAC_BITS
        return {"up": int(round(self.eta * unit)),
                "down": int(round(self.eta * r * unit)),
                "lo": int(round(self.lo * unit)), "hi": int(round(self.hi * unit))}

    def report(self, dt):
        t = self.table(dt)
        r = self.target_rate * dt / 1000.0
        unit = 1 << spec.THETA_FRAC_BITS
        eff_rate = t["down"] / max(t["up"], 1) * 1000.0 / dt
        return LearnReport([
            _row("target_rate (Hz)", self.target_rate, t["down"], eff_rate),
            _row("eta up (threshold units)", self.eta, t["up"], t["up"] / unit),
            _row("eta down (threshold units)", self.eta * r, t["down"], t["down"] / unit)])
