"""Gate-level co-simulation: the synthesised iCE40 / ECP5 netlists of the neuron core (with
the vendor cell models, under Verilator) are bit-exact with golden; the block-RAM models
honour their init parameters; a broken netlist is caught."""

import copy
import re

import numpy as np
import pytest

from neurofab.config import random_config
from neurofab.cosim import gatelevel
from neurofab.cosim.core import random_inputs, run_gate_cosim
from neurofab.cosim.gatelevel import GEOMETRY, gate_build

pytestmark = pytest.mark.slow

STEPS = 8


def _config(seed):
    rng = np.random.default_rng(seed)
    n, n_in, cap = (GEOMETRY[k] for k in ("n_neurons", "n_inputs", "syn_capacity"))
    cfg = random_config(rng, n_neurons=n, n_inputs=n_in,
                        max_fanout=(cap - (n + n_in)) // (n + n_in), extremes=True)
    return cfg, random_inputs(rng, n_in, STEPS, per_step=6)


def _run(family, seed, **kw):
    cfg, inputs = _config(seed)
    return run_gate_cosim(cfg, inputs, family=family, seed=seed, gap=0.3, stall=0.3,
                          check_state="every", syn_capacity=GEOMETRY["syn_capacity"], **kw)


@pytest.mark.parametrize("family, cells", [
    ("ice40", ("SB_RAM40_4K", "SB_SPRAM256KA", "SB_MAC16", "SB_LUT4", "SB_CARRY")),
    ("ecp5", ("DP16KD", "MULT18X18D", "TRELLIS_DPR16X4", "LUT4", "CCU2C")),
])
def test_gate_level_bit_exact(family, cells):
    res = _run(family, seed=11)
    assert res.bit_exact, res.report()
    assert res.backend == f"gate-{family}"
    assert res.states_checked == STEPS
    assert res.synaptic_events > 0 and res.output_spikes > 0
    # the netlist uses the hard blocks whose models are under test
    for cell in cells:
        assert res.build["cells"].get(cell, 0) > 0, (cell, res.build["cells"])


def test_gate_level_catches_divergence():
    """The RTL side gets a config with one weight negated (a synapse of an input channel
    of step 0): the harness must report where the netlist parts from golden. (Same build
    as the bit-exact run; no waveform, which would need a traced build.)"""
    cfg, inputs = _config(11)
    broken = copy.deepcopy(cfg)
    src = cfg.n_neurons + int(inputs[0][0])
    row = np.arange(cfg.fanout_ptr[src], cfg.fanout_ptr[src + 1])
    k = int(row[np.flatnonzero(cfg.syn_weight[row] != 0)[0]])
    w = int(cfg.syn_weight[k])
    broken.syn_weight[k] = -w if w != -128 else 127
    res = run_gate_cosim(cfg, inputs, family="ice40", seed=11, gap=0.3, stall=0.3,
                         syn_capacity=GEOMETRY["syn_capacity"], rtl_cfg=broken,
                         vcd_path=False)
    assert not res.bit_exact and res.vcd is None
    d = res.first_divergence
    assert d is not None and d.step == 0, res.report()
    # the weight reaches an accumulator slot (or, with delay 1, the state) of its target
    target = int(cfg.syn_target[k])
    assert any(x.where == f"neuron {target}" for x in res.divergences), res.report()


# --- cell models: block RAM init parameters, all port widths -----------------------------
def _probe(widths, depth, seed):
    """A component reading ``len(widths)`` initialised memories at the address of each
    ``i_req`` transaction; ``o_resp`` is their words concatenated. Returns (component,
    init words per memory)."""
    from amaranth import Cat, Module, Signal
    from amaranth.lib import memory, stream, wiring
    from amaranth.lib.wiring import In, Out
    rng = np.random.default_rng(seed)
    inits = [[int(x) for x in rng.integers(0, 1 << w, depth, dtype=np.uint64)]
             for w in widths]
    abits = (depth - 1).bit_length()

    class Probe(wiring.Component):
        i_req: In(stream.Signature(abits))
        o_resp: Out(stream.Signature(sum(widths)))

        def elaborate(self, platform):
            m = Module()
            ports = []
            for j, (w, init) in enumerate(zip(widths, inits)):
                m.submodules[f"mem{j}"] = mem = memory.Memory(shape=w, depth=depth,
                                                              init=init)
                ports.append(mem.read_port())
            busy = Signal(2)
            for p in ports:
                m.d.comb += p.addr.eq(self.i_req.payload)
            m.d.comb += [self.i_req.ready.eq(busy == 0), self.o_resp.valid.eq(busy == 2)]
            with m.If((busy == 0) & self.i_req.valid):
                m.d.sync += busy.eq(1)
            with m.If(busy == 1):
                m.d.sync += [busy.eq(2), self.o_resp.payload.eq(Cat(p.data for p in ports))]
            with m.If((busy == 2) & self.o_resp.ready):
                m.d.sync += busy.eq(0)
            for p in ports:
                m.d.comb += p.en.eq((busy == 0) & self.i_req.valid)
            return m

    return Probe(), inits


@pytest.mark.parametrize("family, widths, depth", [
    ("ice40", (16, 8, 4, 2), 256),
    ("ecp5", (36, 18, 9, 27), 512),
])
def test_block_ram_models_init(tmp_path, family, widths, depth):
    from amaranth.back import rtlil
    from neurofab.cosim.player import Mem, Phase, Script, play_verilator
    probe, inits = _probe(widths, depth, seed=5)
    text = rtlil.convert(probe, name="probe", emit_src=False)
    # block RAM, not LUT RAM or flip-flops, whatever the size
    text = re.sub(r"^(\s*)(memory [^\n]*)$", r'\1attribute \\ram_style "block"\n\1\2',
                  text, flags=re.M)
    b, net = gate_build(text, family, top="probe", ports=("clk", "rst", "i_req__*",
                                                          "o_resp__*"))
    bram = {"ice40": "SB_RAM40_4K", "ecp5": "DP16KD"}[family]
    assert net.cells.get(bram, 0) >= len(widths), net.cells
    addrs = list(np.random.default_rng(1).permutation(depth)[:96]) + [0, depth - 1]
    script = Script([Phase([Mem("i_req", "o_resp", [int(a) for a in addrs], gap=0.2,
                                stall=0.2)], "read", timeout=20 * len(addrs))], seed=2)
    res = play_verilator(b, script, workdir=tmp_path)
    got = res.phases[0].data[0]
    assert len(got) == len(addrs)
    for a, word in zip(addrs, got):
        shift = 0
        for j, w in enumerate(widths):
            assert (word >> shift) & ((1 << w) - 1) == inits[j][a], (family, w, a)
            shift += w


def test_cell_library_has_no_black_boxes():
    lib = gatelevel.cell_library("ecp5")
    for cell in ("DP16KD", "MULT18X18D"):
        m = re.search(rf"(\(\*[^*]*\*\)\s*)?module {cell}\b", lib)
        assert m is not None and not (m.group(1) or "").strip(), cell
        assert len(re.findall(rf"\bmodule {cell}\b", lib)) == 1
    assert "`include" not in lib
    paths = gatelevel.cell_models("ice40") + gatelevel.cell_models("ecp5")
    assert all(p.is_file() for p in paths)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["ice40", pytest.param("ecp5", marks=pytest.mark.gate_all)])
def test_link_controller_gate_level(family):
    """The host link's controller after synth_ice40 / synth_ecp5 equals its golden. Yosys
    re-encodes its state machines without their initial values: only the player's reset
    pulse before the script puts them in their initial state (without it the netlist
    never answered a frame)."""
    from neurofab.cosim.registry import cosim_block
    res = cosim_block("link-controller", backend=f"gate-{family}", seed=1, vcd_path=False)
    assert res.bit_exact, res.report()
    assert res.cycles > 0
