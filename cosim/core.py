"""Cases of the neuron core (``rtl/core.py`` against ``golden/core.py``), bit for bit.

The same transactions go into both models. The RTL side gets random valid gaps on
``i_events`` and random back-pressure on ``o_spikes`` and ``o_mem`` (seeded). Compared are

* the configuration the RTL holds, read back through ``i_mem`` before step 0 (profiles, row
  pointers, synapses, ``W_SHIFT``) against the words of the configuration;
* every ``o_spikes`` transaction of every step, in order (fired neurons, then ``eos``);
* the full architectural state at every step boundary (``check_state="every"``) or after
  the last step (``"end"``): every kernel state field (CUBA-LIF: ``i``, ``v``, ``ref``)
  and ``profile`` of every ``STATE`` word,
  every ``ACC`` slot of every neuron and the ``STEP`` register, read back through ``i_mem``;
* on a learning config (``cfg.learning``) also the learning state at the same boundaries
  (:func:`learn_read`): the trace ``x`` of every source (``PRE``), ``y``, ``fired``,
  ``theta`` of every neuron (``POST``) and every field of every synapse word (``weight``,
  ``frac``, ``elig`` and the unchanging ones); the configuration read before step 0 also
  covers ``TRACES``, ``LEARN_END`` and the rule and homeostasis tables. A per-step
  ``reward`` is written to ``Ctrl.MODULATOR`` through ``i_mem`` before each step (golden:
  ``set_modulator``).

On the Amaranth back end the core's memories are initialised from the config. On Verilator
and gate level the core is built with zero memories for the config's geometry (neurons,
inputs, synapse capacity) — so one build serves every config of that geometry — and the
config is uploaded through ``i_mem`` before step 0, which exercises the upload path too.

The state readback and its comparison (:func:`state_read`) serve every block that holds a
neuron core (the encoded core, the fabric).
"""

import numpy as np

from neurofab import spec
from neurofab.config import (CoreConfig, decode_state, random_config, random_learning,
                             state_addresses)
from neurofab.golden import core as golden_core
from neurofab.golden.learning import LEARN_FIELDS
from neurofab.kernels import DEFAULT_KERNEL
from neurofab.spec import Ctrl, Region

from .engine import Divergence, StateRead, Step, StepCase, run

__all__ = ["core_case", "run_core_cosim", "cosim_core", "compare_backends", "random_inputs",
           "core_geometry", "state_read", "upload_read", "config_read", "compare_state",
           "readback_requests", "run_gate_cosim", "make", "learn_read", "modulator_write",
           "random_rewards", "LEARNING_RULES"]

#: ``--learning`` choices: each exercises one of ``random_learning``'s rules
LEARNING_RULES = ("stdp", "rstdp", "homeostasis")

BLOCK = "core"


# --- memory-port words --------------------------------------------------------------------
def _event(channel=0, eos=0):
    return spec.pack(spec.InputEvent, channel=channel, eos=eos)


def _spike(neuron=0, eos=0):
    return spec.pack(spec.SpikeEvent, neuron=neuron, eos=eos)


def readback_requests(n):
    """Requests reading a core's architectural state (``config.state_addresses``): every
    ``STATE`` word, every ``ACC`` word and the ``STEP`` register."""
    return [spec.mem_request(region, k) for region, k in state_addresses(n)]


def compare_state(t, cfg, gstate, words, *, block=BLOCK, where=""):
    """All divergences of one :func:`readback_requests` readback against a golden
    ``CoreState``, sorted by neuron then field; ``where`` prefixes the place (a fabric's
    ``"core 2, "``)."""
    n = cfg.n_neurons
    expected_len = n + n * spec.DELAY_SLOTS + 1
    if len(words) != expected_len:
        return [Divergence(t, block, f"{where}o_mem", "responses", expected_len, len(words))]
    got = decode_state(words, n, cfg.kernel)
    fields = (*cfg.kernel.state_fields, "profile")
    exp = {**gstate.neurons, "profile": cfg.profile, "acc": gstate.acc}
    found = []
    for order, name in enumerate(fields):
        for k in np.flatnonzero(got[name] != exp[name]):
            found.append((int(k), order, Divergence(t, block, f"{where}neuron {k}", name,
                                                    int(exp[name][k]), int(got[name][k]))))
    for slot, k in np.argwhere(got["acc"] != exp["acc"]):
        found.append((int(k), len(fields) + int(slot), Divergence(
            t, block, f"{where}neuron {k}", f"acc[slot {slot}]", int(exp["acc"][slot, k]),
            int(got["acc"][slot, k]))))
    found.sort(key=lambda x: (x[0], x[1]))
    out = [d for _, _, d in found]
    if got["step"] != (gstate.step & ((1 << spec.STEP_WIDTH) - 1)):
        out.append(Divergence(t, block, f"{where}register STEP", "step", gstate.step,
                              got["step"]))
    return out


def state_read(cfg, states, *, req="i_mem", resp="o_mem", block=BLOCK, where=""):
    """The :class:`StateRead` of a core's full state after step ``t`` against
    ``states[t]`` (golden ``CoreState`` s)."""
    return StateRead(req, resp, readback_requests(cfg.n_neurons),
                     lambda t, words: compare_state(t, cfg, states[t], words, block=block,
                                                    where=where), label="state")


def learn_read(cfg, states, *, req="i_mem", resp="o_mem", block=BLOCK):
    """The :class:`StateRead` of a learning core's learning state after step ``t`` against
    ``states[t].learn``: ``PRE`` of every source, ``POST`` of every neuron and every
    synapse word (all its fields), each divergence named by place and field."""
    lc, n, n_src, n_syn = cfg.learning, cfg.n_neurons, cfg.n_sources, cfg.n_synapses
    requests = ([spec.mem_request(Region.PRE, k) for k in range(n_src)]
                + [spec.mem_request(Region.POST, k) for k in range(n)]
                + [spec.mem_request(Region.SYNAPSE, k) for k in range(n_syn)])
    fixed = {"target": cfg.syn_target, "delay": cfg.syn_delay - spec.DELAY_MIN,
             "rule": lc.syn_rule, "source": cfg.syn_source}

    def compare(t, words):
        if len(words) != len(requests):
            return [Divergence(t, block, "o_mem", "learning responses", len(requests),
                               len(words))]
        words = np.array([int(w) for w in words], dtype=object)
        got = {"x": spec.unpack(spec.PreTrace, words[:n_src])["x"],
               **spec.unpack(spec.PostTrace, words[n_src:n_src + n]),
               **spec.unpack(spec.PlasticSynapse, words[n_src + n:])}
        exp = {**states[t].learn, **fixed}
        out = []
        for name in (*LEARN_FIELDS, *fixed):
            where = ("source" if name == "x" else "neuron" if name in ("y", "fired", "theta")
                     else "synapse")
            bad = np.flatnonzero(np.asarray(got[name], dtype=np.int64) != exp[name])
            out += [Divergence(t, block, f"{where} {k}", name, int(exp[name][k]),
                               int(got[name][k])) for k in bad]
        return out
    return StateRead(req, resp, requests, compare, label="learning state")


def _joined(first, second):
    """Two reads on one port pair as one (a phase uses a port once)."""
    k = len(first.requests)
    return StateRead(first.req, first.resp, first.requests + second.requests,
                     lambda t, words: first.compare(t, words[:k]) +
                     second.compare(t, words[k:]), label=first.label)


def queue_read(cfg, states, *, req="i_mem", resp="o_mem", block=BLOCK):
    """The :class:`StateRead` of the spike queue (region ``QUEUE``) after step ``t``: its
    count and queued neurons against ``states[t].pending`` (the words behind the count
    are left from earlier steps and not compared)."""
    n = cfg.n_neurons
    requests = [spec.mem_request(Region.QUEUE, k) for k in range(n + 1)]

    def compare(t, words):
        exp = [int(x) for x in states[t].pending]
        got = [int(w) for w in words]
        if got[n] != len(exp):
            return [Divergence(t, block, "spike queue", "count", len(exp), got[n])]
        return [Divergence(t, block, f"spike queue [{k}]", "neuron", e, g)
                for k, (e, g) in enumerate(zip(exp, got)) if e != g]
    return StateRead(req, resp, requests, compare, label="spike queue")


def queue_write(neurons, *, req="i_mem", resp="o_mem", n_neurons):
    """Writes that set the spike queue to ``neurons`` (then its count, at index
    ``n_neurons``), as a restore does."""
    requests = [spec.mem_request(Region.QUEUE, k, 1, int(x)) for k, x in enumerate(neurons)]
    requests.append(spec.mem_request(Region.QUEUE, n_neurons, 1, len(neurons)))
    return StateRead(req, resp, requests, None, label="spike queue write")


def modulator_write(value, *, req="i_mem", resp="o_mem"):
    """The write of ``Ctrl.MODULATOR`` (a learning core's reward, signed 16-bit)."""
    word = int(value) & ((1 << spec.MOD_WIDTH) - 1)
    return StateRead(req, resp, [spec.mem_request(Region.CTRL, Ctrl.MODULATOR.value, 1, word)],
                     None, label="modulator")


def random_rewards(rng, steps):
    """A random reward per step: mostly small, sometimes 0 or at either rail."""
    rng = np.random.default_rng(rng)
    r = rng.integers(-2000, 2001, steps)
    pick = rng.random(steps)
    r = np.where(pick < 0.1, spec.MOD_MIN, np.where(pick < 0.2, spec.MOD_MAX, r))
    return np.where((pick >= 0.2) & (pick < 0.35), 0, r).astype(np.int64)


def upload_read(cfg, n_inputs, *, req="i_mem", resp="o_mem"):
    """Writes of ``cfg`` (for a core of ``n_inputs`` input channels) through the memory
    port: the set-up of an empty-memory build."""
    return StateRead(req, resp, [spec.mem_request(region, index, 1, word) for region, index, word
                                 in cfg.upload_words(n_inputs=n_inputs)], None, label="upload")


def config_read(cfg, n_inputs, *, req="i_mem", resp="o_mem", block=BLOCK):
    """Reads of the configuration memories (profiles, row pointers, the config's synapses,
    ``W_SHIFT``) compared with the words of ``cfg``: what the RTL holds is what it was
    given (memory init or upload). Reports the first differing word."""
    ctrl = {Ctrl.W_SHIFT.value}
    if cfg.learning is not None:    # TRACES, LEARN_END, the rule and homeostasis tables
        ctrl |= {Ctrl.TRACES.value, Ctrl.LEARN_END.value,
                 *range(spec.CTRL_RULE, spec.CTRL_HOMEO + spec.PROFILE_COUNT)}
    items = [(region, k, w) for region, k, w in cfg.upload_words(n_inputs=n_inputs)
             if region in (Region.PROFILE, Region.ROWPTR) or
             (region is Region.SYNAPSE and k < cfg.n_synapses) or
             (region is Region.CTRL and k in ctrl)]
    names = [f"{region.name}[{k}]" if region is not Region.CTRL else
             (f"register {Ctrl(k).name}" if k < spec.CTRL_RULE else f"CTRL[{k}]")
             for region, k, _ in items]
    words = [w for _, _, w in items]

    def compare(t, got):
        for j, w in enumerate(words):
            if j >= len(got) or got[j] != w:
                return [Divergence(-1, block, names[j], "word", hex(w),
                                   hex(got[j]) if j < len(got) else "nothing")]
        return []
    return StateRead(req, resp, [spec.mem_request(region, k) for region, k, _ in items], compare,
                     label="config")


# --- stimulus -------------------------------------------------------------------------
def random_inputs(rng, n_inputs, steps, *, per_step=4):
    """``steps`` sorted arrays of unique input channels, ``per_step`` per step on average
    (uniform in 0 .. 2 * ``per_step``, at most ``n_inputs``)."""
    rng = np.random.default_rng(rng)
    if n_inputs == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(steps)]
    out = []
    for _ in range(steps):
        k = min(int(rng.integers(0, 2 * per_step + 1)), n_inputs)
        out.append(np.sort(rng.choice(n_inputs, size=k, replace=False)).astype(np.int64))
    return out


def core_geometry(cfg, syn_capacity=None):
    """(n_neurons, n_inputs, syn_capacity) of the empty-memory build for ``cfg``: the
    synapse memory is rounded up to a power of two so that configs of similar size share a
    build."""
    if syn_capacity is None:
        syn_capacity = 1 << max(0, int(max(1, cfg.n_synapses) - 1).bit_length())
    if syn_capacity < cfg.n_synapses:
        raise ValueError(f"syn_capacity = {syn_capacity} is below the config's "
                         f"{cfg.n_synapses} synapses")
    return cfg.n_neurons, cfg.n_inputs, int(syn_capacity)


# --- the case -------------------------------------------------------------------------
def core_case(cfg, inputs, *, check_state="every", rtl_cfg=None, core_factory=None,
              syn_capacity=None, reward=None, queue=None):
    """The :class:`StepCase` of a ``NeuronCore`` running ``cfg`` on per-step input channels
    ``inputs`` against its golden twin ``golden.core.NeuronCore``.

    Parameters
    ----------
    cfg : CoreConfig
        What the golden model runs (and, unless ``rtl_cfg`` is given, the RTL).
    inputs : sequence of int arrays
        Input channels of every step (unique within a step).
    check_state : "every" or "end"
        Read the full state back after every step, or only after the last.
    rtl_cfg : CoreConfig, optional
        A different config for the RTL (tests of the engine itself).
    core_factory : callable, optional
        ``core_factory(cfg, n_neurons=, n_inputs=, syn_capacity=, kernel=)`` → the
        component under test (default ``neurofab.rtl.core.NeuronCore``).
    syn_capacity : int, optional
        Synapse memory depth of the empty-memory build (default: next power of two).
    reward : sequence of int, optional
        A learning config: the modulator of every step, written before it.
    queue : dict, optional
        A core with the spike-queue region (``queue_port=True``): ``{t: neurons}`` sets the
        queue to the sorted ``neurons`` before step ``t`` (a restore, mirrored in the
        golden core), and the queue is read back with the state.
    """
    if check_state not in ("every", "end"):
        raise ValueError(f"check_state = {check_state!r} must be 'every' or 'end'")
    if not isinstance(cfg, CoreConfig):
        raise TypeError(f"cfg must be a CoreConfig, not {cfg!r}")
    cfg.validate()
    inputs = cfg.check_inputs(inputs)
    rtl_cfg = cfg if rtl_cfg is None else rtl_cfg.validate()
    if core_factory is None:
        from neurofab.rtl.core import NeuronCore as core_factory
    n, n_in, cap = core_geometry(rtl_cfg, syn_capacity)
    learning = cfg.learning is not None
    if reward is not None:
        if not learning:
            raise ValueError("reward is for a learning config (cfg.learning is None)")
        reward = [int(r) for r in reward]
        if len(reward) != len(inputs):
            raise ValueError(f"reward has {len(reward)} values, expected one per step "
                             f"({len(inputs)})")
    core = golden_core.NeuronCore(cfg)
    steps, states = [], []
    for t, chans in enumerate(inputs):
        before = []
        if reward is not None:
            core.set_modulator(reward[t])
            before.append(modulator_write(reward[t]))
        if queue is not None and t in queue:
            core.state.pending = np.sort(np.asarray(queue[t], dtype=np.int64))
            before.append(queue_write(core.state.pending, n_neurons=n))
        fired = core.step(chans)
        states.append(core.state.copy())
        steps.append(Step({"i_events": [_event(c) for c in chans] + [_event(eos=1)]},
                          {"o_spikes": [_spike(k) for k in fired] + [_spike(eos=1)]},
                          clocks=225 + n + (1 + learning) * cfg.n_synapses + n_in,
                          before=before))
    reads = [state_read(cfg, states)]
    if learning:
        reads = [_joined(reads[0], learn_read(cfg, states))]
    if queue is not None:
        reads = [_joined(reads[0], queue_read(cfg, states))]
        factory = core_factory
        core_factory = lambda c, **kw: factory(c, queue_port=True, **kw)  # noqa: E731
    params = {"kernel": cfg.kernel.name, "neurons": cfg.n_neurons, "inputs": cfg.n_inputs,
              "synapses": cfg.n_synapses, "check_state": check_state}
    if learning:
        params.update(learn_end=cfg.learning.learn_end, reward=reward is not None)
    if queue is not None:
        params.update(queue_writes=len(queue))
    return StepCase(
        BLOCK, params, lambda: core_factory(rtl_cfg), steps, {"o_spikes": "spikes"},
        reads=reads, synaptic_events=core.synaptic_events,
        setup=[config_read(rtl_cfg, rtl_cfg.n_inputs)],
        empty_factory=lambda: core_factory(None, n_neurons=n, n_inputs=n_in,
                                           syn_capacity=cap, kernel=rtl_cfg.kernel,
                                           **({"learning": True} if learning else {})),
        empty_setup=[upload_read(rtl_cfg, n_in), config_read(rtl_cfg, n_in)],
        read_after=check_state, top="neurofab_core")


def run_core_cosim(cfg, inputs, *, backend="amaranth", seed=0, gap=0.3, stall=0.3,
                   check_state="every", vcd_path=None, progress=None, rtl_cfg=None,
                   core_factory=None, syn_capacity=None, workdir=None, reward=None,
                   queue=None):
    """:func:`core_case` played by :func:`neurofab.cosim.engine.run` (see both)."""
    case = core_case(cfg, inputs, check_state=check_state, rtl_cfg=rtl_cfg,
                     core_factory=core_factory, syn_capacity=syn_capacity, reward=reward,
                     queue=queue)
    res = run(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
              progress=progress, workdir=workdir)
    res.extra.update(neurons=cfg.n_neurons, check_state=check_state)
    return res


def run_gate_cosim(cfg, inputs, *, family="ice40", **kwargs):
    """Co-simulate the synthesised neuron core (``family`` netlist + cell models, under
    Verilator; ``cosim/gatelevel.py``) against golden: :func:`run_core_cosim` with
    ``backend="gate-<family>"``. Keyword arguments go to ``run_core_cosim``. The result's
    ``build`` also holds the netlist's key and cell counts."""
    from .gatelevel import FAMILIES
    if family not in FAMILIES:
        raise ValueError(f"family = {family!r} must be one of {FAMILIES}")
    return run_core_cosim(cfg, inputs, backend=f"gate-{family}", **kwargs)


def make(rng, steps, *, neurons=None, n_inputs=None, max_fanout=32, inputs_per_step=4,
         check_state="every", syn_capacity=None, kernel=None, learning=None):
    """Registry builder: a random config of ``kernel`` (``random_config``, extremes
    included; default CUBA-LIF) of ``neurons`` (default 64) and random inputs.
    ``learning`` (one of :data:`LEARNING_RULES`): a learning core exercising that rule
    (``random_learning(..., rules=(learning,))``), with a random reward every step."""
    neurons = 64 if neurons is None else neurons
    n_inputs = max(4, neurons // 4) if n_inputs is None else n_inputs
    if learning is not None and learning not in LEARNING_RULES:
        raise ValueError(f"--learning {learning}: must be one of {', '.join(LEARNING_RULES)}")
    cfg = random_config(rng, n_neurons=neurons, n_inputs=n_inputs, max_fanout=max_fanout,
                        kernel=kernel or DEFAULT_KERNEL)
    reward = None
    if learning is not None:
        cfg = random_learning(rng, cfg, rules=(learning,))
    inputs = random_inputs(rng, n_inputs, steps, per_step=inputs_per_step)
    if learning is not None:
        reward = random_rewards(rng, steps)
    return core_case(cfg, inputs, check_state=check_state, syn_capacity=syn_capacity,
                     reward=reward)


def cosim_core(neurons=64, steps=50, seed=0, backend="amaranth", *, n_inputs=None,
               max_fanout=32, inputs_per_step=4, kernel=DEFAULT_KERNEL, **kwargs):
    """Random config (``random_config``) + random inputs, then :func:`run_core_cosim`.

    ``n_inputs`` defaults to ``neurons // 4`` (at least 4); every step gets
    ``inputs_per_step`` unique channels on average (0 .. twice that). Other keyword arguments
    go to ``run_core_cosim``.
    """
    rng = np.random.default_rng(seed)
    n_inputs = max(4, neurons // 4) if n_inputs is None else n_inputs
    cfg = random_config(rng, n_neurons=neurons, n_inputs=n_inputs, max_fanout=max_fanout,
                        kernel=kernel)
    inputs = random_inputs(rng, n_inputs, steps, per_step=inputs_per_step)
    return run_core_cosim(cfg, inputs, backend=backend, seed=seed, **kwargs)


def compare_backends(neurons=256, steps=50, seed=0, *, check_state="every", **kwargs):
    """The same random core run (config, inputs, flow-control seed) on both back ends.

    The Verilator build is made (or found in the cache) before timing, so the ratio compares
    simulation runs, not a one-off compile. Returns a JSON-serialisable dict with both
    summaries, ``ratio`` = Amaranth wall time / Verilator wall time and
    ``verilator_cycles_per_s`` (simulated clock cycles per second of the Verilator run,
    full state compared as ``check_state`` says).
    """
    from neurofab.rtl.core import NeuronCore
    from .verilator import build as vbuild
    rng = np.random.default_rng(seed)
    n_inputs = kwargs.pop("n_inputs", max(4, neurons // 4))
    cfg = random_config(rng, n_neurons=neurons, n_inputs=n_inputs,
                        max_fanout=kwargs.pop("max_fanout", 32))
    inputs = random_inputs(rng, n_inputs, steps, per_step=kwargs.pop("inputs_per_step", 4))
    n, n_in, cap = core_geometry(cfg, kwargs.get("syn_capacity"))
    b = vbuild(NeuronCore(None, n_neurons=n, n_inputs=n_in, syn_capacity=cap),
               name="neurofab_core")
    runs, sim = {}, {}
    for backend in ("verilator", "amaranth"):
        res = run_core_cosim(cfg, inputs, backend=backend, seed=seed,
                             check_state=check_state, **kwargs)
        runs[backend], sim[backend] = res.summary(), res
    v = sim["verilator"]
    return {"neurons": neurons, "steps": steps, "check_state": check_state,
            "verilator_build_s": round(b.build_s, 3), "verilator_build_cached": b.cached,
            "amaranth": runs["amaranth"], "verilator": runs["verilator"],
            "bit_exact": runs["amaranth"]["bit_exact"] and runs["verilator"]["bit_exact"],
            "ratio": round(runs["amaranth"]["wall_s"] / runs["verilator"]["wall_s"], 2),
            "verilator_cycles_per_s": round(v.sim_cycles / v.sim_s) if v.sim_s else 0}
