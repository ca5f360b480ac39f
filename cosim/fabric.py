"""Cases of the multi-core fabric (``rtl/fabric.py`` against ``golden/fabric.py``, which
equals the single big golden core).

Host step ``t`` (``t = 0 .. len(inputs)``, the last one without inputs, so that the spikes
of the last update come out) offers the step's channels and the end-of-step marker on
``i_events`` and drains ``o_spikes`` up to its marker: the spikes of update ``t - 1``,
compared as a set with golden and, per core, in increasing neuron order (each core's order
is kept through the router). Then (``check_state="every"``, or after the last step with
``"end"``) every core's full state is read through its ``i_mem_<k>`` port and compared with
the golden core ``k`` (i, v, ref, profile, all accumulator slots, STEP — the readback of
:mod:`.core`), and the router's step and counters through the probe.

With ``host_tap=True`` (the fabric of the board tops, ``rtl.fabric.HostTap``) host step
``t`` (``t = 0 .. len(inputs) - 1``) drains the spikes of update ``t`` itself, numbered
``k * n_neurons + local``, compared as a list: every core's spikes, cores in order.

On Verilator and gate level the fabric is built with empty memories and table for the
geometry of :func:`fabric_geometry` (one build per geometry) and the cores'
configurations are uploaded first; on Amaranth they are memory init (the table is written
through ``i_table`` on both).
"""

import numpy as np

from neurofab import spec

from .aer import compare_router_state, router_probe
from .core import compare_state, random_inputs, readback_requests, upload_read
from .engine import Divergence, DivergenceLog, Plan, Probed, Verdict, run, slowdown
from .player import Get, Mem, Phase, Put, Script

__all__ = ["FabricCase", "run_fabric_cosim", "cosim_fabric", "make", "fabric_geometry"]

_S_EOS = spec.SpikeEvent["eos"].offset
_S_NEURON = (spec.SpikeEvent["neuron"].offset, spec.SpikeEvent["neuron"].width)


def _event_word(channel=0, eos=0):
    return spec.pack(spec.InputEvent, channel=channel, eos=eos)


def fabric_geometry(fcfg, syn_capacity=None):
    """``(cores, n_neurons, n_inputs, syn_capacity)`` of the empty-memory build for
    ``fcfg`` (synapse memory: the largest core's, rounded up to a power of two)."""
    need = max(max(1, c.n_synapses) for c in fcfg.cores)
    cap = 1 << (need - 1).bit_length() if syn_capacity is None else int(syn_capacity)
    if cap < need:
        raise ValueError(f"syn_capacity = {cap} is below the largest core's {need} synapses")
    return (fcfg.n_cores, max(c.n_neurons for c in fcfg.cores),
            max(c.n_inputs for c in fcfg.cores), cap)


def _probed_fabric(fcfg, geometry=None, host_tap=False):
    from neurofab.rtl.fabric import Fabric
    if geometry is None:
        f = Fabric(fcfg, host_tap=host_tap)
    else:
        cores, n, n_in, cap = geometry
        f = Fabric(None, cores=cores, n_neurons=n, n_inputs=n_in, syn_capacity=cap,
                   entries_per_port=fcfg.table.entries_per_port, host_tap=host_tap)
    return Probed(f, router_probe(f))


class FabricCase:
    """A ``Fabric`` running ``fcfg`` (``partition.compile_fabric``) on per-step host input
    channels against ``golden.fabric.Fabric`` (see the module docstring)."""

    def __init__(self, fcfg, inputs, *, check_state="every", syn_capacity=None,
                 block="fabric", host_tap=False):
        from neurofab.golden import fabric as golden_fabric
        if check_state not in ("every", "end"):
            raise ValueError(f"check_state = {check_state!r} must be 'every' or 'end'")
        fcfg.validate()
        inputs = [np.asarray(c, dtype=np.int64).reshape(-1) for c in inputs]
        if fcfg.n_inputs:
            inputs = fcfg.cores[0].check_inputs(inputs)   # channels < n_axons; unique
        for t, c in enumerate(inputs):
            if c.size and (c.max() >= fcfg.n_inputs or c.min() < 0):
                raise ValueError(f"inputs[{t}] has channel {int(c.max())}, the network has "
                                 f"{fcfg.n_inputs} input channels")
        self.fcfg, self.check_state, self.block = fcfg, check_state, block
        self.syn_capacity = syn_capacity
        self.host_tap = bool(host_tap)
        self.top = f"nf_fabric{fcfg.n_cores}{'_tap' if host_tap else ''}"
        self.host_steps = inputs + ([] if host_tap else [np.zeros(0, np.int64)])
        self.gold = gold = golden_fabric.Fabric(fcfg)
        self.states, self.tap_out = [], []
        n_local = max(c.n_neurons for c in fcfg.cores)
        for chans in self.host_steps:
            spk = gold.step(chans)
            core = np.searchsorted(fcfg.start, spk, side="right") - 1
            self.tap_out.append((core * n_local + spk - fcfg.start[core]).tolist())
            self.states.append(gold.states())
        self.input_events = int(sum(len(c) for c in inputs))
        self.synaptic_events = int(gold.synaptic_events)
        self.params = {"cores": fcfg.n_cores, "neurons": fcfg.n_neurons,
                       "neurons_per_core": max(c.n_neurons for c in fcfg.cores),
                       "inputs": fcfg.n_inputs,
                       "synapses": int(sum(c.n_synapses for c in fcfg.cores)),
                       "check_state": check_state, "host_tap": self.host_tap}

    def _geometry(self, backend):
        return None if backend == "amaranth" else fabric_geometry(self.fcfg, self.syn_capacity)

    def dut(self, backend):
        tap = {"host_tap": True} if self.host_tap else {}
        return _probed_fabric(self.fcfg, self._geometry(backend), **tap)

    def plan(self, backend, *, gap, stall, seed):
        from neurofab.rtl.aer import table_words
        fcfg, K = self.fcfg, self.fcfg.n_cores
        geometry = self._geometry(backend)
        n_local = max(c.n_neurons for c in fcfg.cores)
        n_axons = max(c.n_inputs for c in fcfg.cores)
        slow = slowdown(gap, stall)
        setup = [Put("i_table", table_words(fcfg.table))]
        if geometry is not None:
            for k, c in enumerate(fcfg.cores):
                up = upload_read(c, geometry[2], req=f"i_mem_{k}", resp=f"o_mem_{k}")
                setup.append(Mem(up.req, up.resp, up.requests, gap=gap, stall=stall))
        n_up = max(len(op.data) for op in setup)
        phases = [Phase(setup, "setup", timeout=int((200 + 8 * n_up) * slow))]
        kinds, marks = [("setup", -1)], {}
        readback = readback_requests(n_local)
        cfg_syn = max(c.n_synapses for c in fcfg.cores)
        budget = int((3000 + 12 * (n_local + cfg_syn + n_axons)) * slow)
        last = len(self.host_steps) - 1
        for t, chans in enumerate(self.host_steps):
            phases.append(Phase([Put("i_events", [_event_word(c) for c in chans] +
                                     [_event_word(eos=1)], gap=gap),
                                 Get("o_spikes", last_mask=1 << _S_EOS, stall=stall)],
                                f"step {t}", timeout=budget))
            kinds.append(("step", t))
            marks[len(phases) - 1] = (t + 1, last + 1)
            if self.check_state == "every" or t == last:
                ops = [Mem(f"i_mem_{k}", f"o_mem_{k}", readback, stall=stall)
                       for k in range(K)]
                phases.append(Phase(ops, f"state {t}",
                                    timeout=int((3000 + 8 * len(readback)) * slow)))
                kinds.append(("state", t))
                # the router after the cores' readback: every core has taken its marker of
                # step t by then, so the router's step has advanced
                phases.append(Phase([Mem("i_state", "o_state", [0, 1, 2], stall=stall)],
                                    f"router {t}", timeout=int(200 * slow)))
                kinds.append(("router", t))
        return Plan(Script(phases, seed=seed), kinds, marks, last + 1)

    def compare(self, plan, res):
        fcfg, K, block, gold = self.fcfg, self.fcfg.n_cores, self.block, self.gold
        log, rtl_spikes = DivergenceLog(), []
        found = log.found
        cycles = spikes = checked = dropped = unrouted = 0
        for k, ph in enumerate(res.phases):
            kind, t = plan.kinds[k]
            hung = plan.script.phases[k].timeout if ph.end is None else None
            if kind == "setup":
                if hung:
                    found(k, [Divergence(-1, block, "setup", "transactions", "all accepted",
                                         f"not within {hung} cycles (hung)")])
            elif kind == "step":
                if ph.end is not None:
                    cycles += ph.cycles
                words = [int(w) for w in (ph.data[1] or [])]
                neurons = [(w >> _S_NEURON[0]) & ((1 << _S_NEURON[1]) - 1)
                           for w in words if not (w >> _S_EOS) & 1]
                spikes += len(neurons)
                exp = self.tap_out[t] if self.host_tap else \
                    sorted(gold.host_out[t][:, 1].tolist())
                ds = []
                if hung:
                    ds.append(Divergence(t, block, "o_spikes", "end-of-step", "marker",
                                         f"not within {hung} cycles (hung)"))
                else:
                    rtl_spikes.append(np.array(neurons, dtype=np.int64))
                if self.host_tap and neurons != exp:
                    ds.append(Divergence(t, block, "o_spikes", f"spikes of update {t}",
                                         exp, neurons))
                elif sorted(neurons) != exp:
                    missing = sorted(set(exp) - set(neurons))
                    extra = sorted(set(neurons) - set(exp))
                    ds.append(Divergence(t, block, "o_spikes", f"spikes of update {t - 1}",
                                         f"{exp} (missing {missing})",
                                         f"{sorted(neurons)} (extra {extra})"))
                else:
                    for c in range(K):
                        lo, hi = fcfg.start[c], fcfg.start[c + 1]
                        sub = [n for n in neurons if lo <= n < hi]
                        if sub != sorted(sub):
                            ds.append(Divergence(t, block, f"o_spikes from core {c}",
                                                 "order", sorted(sub), sub))
                found(k, ds)
            elif kind == "state":
                checked += 1
                found(k, [d for c in range(K) for d in compare_state(
                    t, fcfg.cores[c], self.states[t][c], ph.data[c] or [], block=block,
                    where=f"core {c}, ")])
            else:
                vals = ph.data[0] or []
                if len(vals) >= 3:
                    dropped, unrouted = int(vals[1]), int(vals[2])
                found(k, compare_router_state(t, block, vals, where="router"))
            if ph.end is None:
                break
        return Verdict(log.divs, log.first, spikes, checked, cycles, rtl_spikes,
                       extra={"events_per_clock": 0.0, "dropped": dropped,
                              "unrouted": unrouted})


def run_fabric_cosim(fcfg, inputs, *, backend="amaranth", seed=0, gap=0.3, stall=0.3,
                     check_state="every", vcd_path=None, progress=None, workdir=None,
                     syn_capacity=None, block="fabric", host_tap=False):
    """A :class:`FabricCase` played by :func:`neurofab.cosim.engine.run`."""
    case = FabricCase(fcfg, inputs, check_state=check_state, syn_capacity=syn_capacity,
                      block=block, host_tap=host_tap)
    res = run(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
              progress=progress, workdir=workdir)
    res.params.update(gap=gap, stall=stall)
    return res


def make(rng, steps, *, cores=2, neurons=None, n_inputs=None, max_fanout=None,
         inputs_per_step=3, **kwargs):
    """Registry builder: a random network (``random_config``, ``neurons`` in all, default
    ``8 * cores``), partitioned over ``cores`` cores (``partition.compile_fabric``), random
    inputs."""
    from neurofab.config import random_config
    from neurofab.partition import compile_fabric
    neurons = neurons or max(8, 8 * cores)
    neurons = 1 << (neurons - 1).bit_length()
    n_inputs = 4 if n_inputs is None else n_inputs
    big = random_config(rng, n_neurons=neurons, n_inputs=n_inputs,
                        max_fanout=max_fanout or max(2, neurons // 2))
    fcfg = compile_fabric(big, cores=cores)
    inputs = random_inputs(rng, n_inputs, steps, per_step=inputs_per_step)
    return FabricCase(fcfg, inputs, **kwargs)


def cosim_fabric(cores=2, steps=20, seed=0, backend="amaranth", *, neurons=None,
                 n_inputs=None, max_fanout=None, inputs_per_step=3, gap=0.3, stall=0.3,
                 vcd_path=None, progress=None, workdir=None, **kwargs):
    """:func:`make` from ``seed``, then :func:`neurofab.cosim.engine.run`."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xFAB])
    case = make(rng, steps, cores=cores, neurons=neurons, n_inputs=n_inputs,
                max_fanout=max_fanout, inputs_per_step=inputs_per_step, **kwargs)
    res = run(case, backend=backend, seed=seed, gap=gap, stall=stall, vcd_path=vcd_path,
              progress=progress, workdir=workdir)
    res.params.update(gap=gap, stall=stall)
    return res
