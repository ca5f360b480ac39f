# amaranth: UnusedElaboratable=no
"""NeuronCore RTL vs the golden core: every spike and the full state after every step."""

import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.config import CoreConfig, decode_state, random_config, state_addresses
from neurofab.cosim.streams import get, put, put_all
from neurofab.golden import core as golden_core
from neurofab.rtl.core import NeuronCore, config_words, memory_init, row_storage
from neurofab.rtl.lif import CubaLif
from neurofab.spec import Ctrl, Region

SLOTS = spec.DELAY_SLOTS


# --- helpers ---------------------------------------------------------------------------
def raw_request(region, index, write=False, data_word=0):
    """A MemRequest payload from raw integers (so that invalid regions can be sent)."""
    return data.Const(spec.MemRequest, spec.pack(spec.MemRequest, index=index,
                                                 region=int(region), write=int(write),
                                                 data=data_word))


async def mem_op(ctx, dut, region, index, data_word=0, write=False, *, rng=None, gap=0.0,
                 stall=0.0):
    region = region.value if isinstance(region, Region) else region
    await put(ctx, dut.i_mem, raw_request(region, index, write, data_word), rng=rng, gap=gap)
    return (await get(ctx, dut.o_mem, rng=rng, stall=stall)).data


async def read_state(ctx, dut, *, rng=None, gap=0.0, stall=0.0):
    """The architectural state through the memory port (``config.decode_state``)."""
    words = [await mem_op(ctx, dut, region, k, rng=rng, gap=gap, stall=stall)
             for region, k in state_addresses(dut.n_neurons)]
    return decode_state(words, dut.n_neurons)


def compare_state(t, got, gold, cfg):
    """Assert RTL state == golden state; the message names the first divergence."""
    st = gold.state
    for name in ("i", "v", "ref"):
        exp = getattr(st, name)
        bad = np.flatnonzero(got[name] != exp)
        assert not bad.size, (f"step {t}: neuron {bad[0]} field {name}: expected "
                              f"{exp[bad[0]]}, got {got[name][bad[0]]}")
    bad = np.flatnonzero(got["profile"] != cfg.profile)
    assert not bad.size, f"step {t}: neuron {bad[0]} profile changed"
    bad = np.argwhere(got["acc"] != st.acc)
    if bad.size:
        slot, n = bad[0]
        pytest.fail(f"step {t}: accumulator of neuron {n} slot {slot}: expected "
                    f"{st.acc[slot, n]}, got {got['acc'][slot, n]}")
    assert got["step"] == st.step, f"step {t}: STEP expected {st.step}, got {got['step']}"


def random_inputs(rng, n_inputs, steps, density=0.5):
    # random subset of channels per step, in random arrival order
    return [rng.permutation(np.flatnonzero(rng.random(n_inputs) < density))
            for _ in range(steps)]


def simulate(dut, *testbenches, background=(), vcd=None):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    for tb in background:
        sim.add_testbench(tb, background=True)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


def run_lockstep(cfg, inputs, *, dut=None, upload=False, seed=0, gap=0.3, stall=0.3,
                 full_state=True, extra_channels=()):
    """Drive ``inputs`` step by step into the RTL core and the golden core; after every
    step compare the spikes and (``full_state``) the whole architectural state read back
    through the memory port. ``extra_channels`` are appended to every step's events on the
    RTL side only (channels with no fan-out, which must not change anything)."""
    rng = np.random.default_rng(seed)
    dut = dut if dut is not None else NeuronCore(cfg)
    gold = golden_core.NeuronCore(cfg)
    spikes = []          # list of payloads seen on o_spikes, filled by the consumer

    async def consumer(ctx):
        crng = np.random.default_rng(seed + 1)
        while True:
            spikes.append(await get(ctx, dut.o_spikes, rng=crng, stall=stall))

    async def main(ctx):
        if upload:
            for region, index, word in config_words(cfg, n_inputs=dut.n_inputs):
                assert await mem_op(ctx, dut, region, index, word, write=True, rng=rng,
                                    gap=gap) == 0
        got = await read_state(ctx, dut)
        compare_state(-1, got, gold, cfg)
        seen = 0
        for t, chans in enumerate(inputs):
            events = [{"channel": int(c), "eos": 0}
                      for c in rng.permutation(list(chans) + list(extra_channels))]
            await put_all(ctx, dut.i_events, events + [{"channel": 0, "eos": 1}], rng=rng,
                          gap=gap)
            # a memory request offered mid-step waits until the step has finished
            step_now = await mem_op(ctx, dut, Region.CTRL, Ctrl.STEP.value, rng=rng)
            assert step_now == t + 1
            expect = gold.step(chans)
            while not any(s.eos for s in spikes[seen:]):
                await ctx.tick()
            end = seen + [s.eos for s in spikes[seen:]].index(1)
            got_spikes = [s.neuron for s in spikes[seen:end]]
            seen = end + 1
            assert got_spikes == expect.tolist(), (f"step {t}: spikes expected "
                                                   f"{expect.tolist()}, got {got_spikes}")
            if full_state or t == len(inputs) - 1:
                compare_state(t, await read_state(ctx, dut, rng=rng, gap=gap, stall=stall),
                              gold, cfg)
        assert seen == len(spikes)
        gold.n_spikes = seen - len(inputs)

    simulate(dut, main, background=[consumer])
    return gold


# --- constructor -----------------------------------------------------------------------
def test_constructor_validation():
    cfg = random_config(0, n_neurons=8, n_inputs=4)
    core = NeuronCore(cfg)
    assert (core.n_neurons, core.n_inputs, core.syn_capacity) == (8, 4, max(1, cfg.n_synapses))
    core = NeuronCore(n_neurons=16, n_inputs=3, syn_capacity=100)
    assert (core.n_neurons, core.n_inputs, core.syn_capacity) == (16, 3, 100)
    with pytest.raises(ValueError, match="n_neurons = 12"):
        NeuronCore(n_neurons=12, syn_capacity=10)
    with pytest.raises(ValueError, match="n_neurons = 1"):
        NeuronCore(n_neurons=1, syn_capacity=10)
    with pytest.raises(ValueError, match=f"n_neurons = {2 * spec.MAX_NEURONS}"):
        NeuronCore(n_neurons=2 * spec.MAX_NEURONS, syn_capacity=10)
    with pytest.raises(TypeError, match="n_neurons"):
        NeuronCore(n_neurons=8.0, syn_capacity=10)
    with pytest.raises(TypeError, match="n_neurons"):
        NeuronCore(syn_capacity=10)
    with pytest.raises(TypeError, match="syn_capacity"):
        NeuronCore(n_neurons=8)
    with pytest.raises(ValueError, match="syn_capacity = 0"):
        NeuronCore(n_neurons=8, syn_capacity=0)
    with pytest.raises(ValueError, match="n_inputs = -1"):
        NeuronCore(n_neurons=8, n_inputs=-1, syn_capacity=4)
    with pytest.raises(TypeError, match="cfg"):
        NeuronCore("config")
    with pytest.raises(ValueError, match="n_neurons = 16"):
        NeuronCore(cfg, n_neurons=16)
    with pytest.raises(ValueError, match="n_inputs = 2"):
        NeuronCore(cfg, n_inputs=2)
    if cfg.n_synapses > 1:
        with pytest.raises(ValueError, match=f"syn_capacity = {cfg.n_synapses - 1}"):
            NeuronCore(cfg, syn_capacity=cfg.n_synapses - 1)
    assert NeuronCore(cfg, n_inputs=10, syn_capacity=cfg.n_synapses + 7).n_inputs == 10
    with pytest.raises(ValueError, match="syn_bank_depth = 12"):
        NeuronCore(cfg, syn_bank_depth=12)
    with pytest.raises(ValueError, match="syn_bank_depth = 0"):
        NeuronCore(cfg, syn_bank_depth=0)
    core = NeuronCore(n_neurons=8, syn_capacity=100, syn_bank_depth=32)
    assert (core.syn_banks, core.syn_bank_depth) == (4, 32)
    core = NeuronCore(n_neurons=8, syn_capacity=100, syn_bank_depth=128)
    assert (core.syn_banks, core.syn_bank_depth) == (1, 100)
    assert core.spike_fifo == "registers"
    assert NeuronCore(cfg, spike_fifo="memory").spike_fifo == "memory"
    with pytest.raises(ValueError, match=r"^spike_fifo = 'bram' is not one of 'registers', "
                                         r"'memory'$"):
        NeuronCore(cfg, spike_fifo="bram")


def test_config_words_layout():
    cfg = random_config(3, n_neurons=8, n_inputs=2)
    words = config_words(cfg, n_inputs=5)
    init = memory_init(cfg, n_inputs=5)
    by_region = {}
    for region, index, word in words:
        by_region.setdefault(region, {})[index] = word
    assert len(by_region[Region.STATE]) == 8
    assert len(by_region[Region.ACC]) == 8 * SLOTS
    assert len(by_region[Region.ROWPTR]) == 8 + 5
    assert len(by_region[Region.SYNAPSE]) == cfg.n_synapses
    assert by_region[Region.CTRL] == {Ctrl.W_SHIFT.value: cfg.w_shift, Ctrl.STEP.value: 0}
    assert words[-1][0] == Region.CTRL
    for region, table in by_region.items():
        assert [table[k] for k in range(len(table))] == init[region]
    k = cfg.n_synapses // 2
    syn = data.Const(spec.Synapse, by_region[Region.SYNAPSE][k])
    assert (syn.target, syn.weight, syn.delay + spec.DELAY_MIN) == (
        cfg.syn_target[k], cfg.syn_weight[k], cfg.syn_delay[k])
    row = data.Const(spec.RowPtr, by_region[Region.ROWPTR][3])
    assert (row.start, row.count) == (cfg.fanout_ptr[3], cfg.fanout_ptr[4] - cfg.fanout_ptr[3])
    assert data.Const(spec.RowPtr, by_region[Region.ROWPTR][12]).count == 0
    prof = data.Const(spec.Profile, by_region[Region.PROFILE][0])
    assert prof.threshold == cfg.threshold[0] and prof.bias == cfg.bias[0]
    assert prof.reset.value == cfg.reset[0]
    assert len(config_words(cfg, clear_acc=False)) == len(words) - 8 * SLOTS - 3


# --- memory port -----------------------------------------------------------------------
@pytest.mark.parametrize("bank", [None, 8])
def test_mem_port_round_trip(bank):
    """Write random words to every region, read them back; out-of-range accesses."""
    rng = np.random.default_rng(11)
    n, n_in, cap = 8, 3, 37
    dut = NeuronCore(n_neurons=n, n_inputs=n_in, syn_capacity=cap, syn_bank_depth=bank)
    assert dut.syn_banks == (1 if bank is None else 5)
    widths = {Region.STATE: spec.NeuronState.size, Region.ACC: spec.ACC_WIDTH,
              Region.PROFILE: spec.Profile.size, Region.ROWPTR: spec.RowPtr.size,
              Region.SYNAPSE: spec.Synapse.size}
    depths = {Region.STATE: n, Region.ACC: n * SLOTS, Region.PROFILE: spec.PROFILE_COUNT,
              Region.ROWPTR: n + n_in, Region.SYNAPSE: cap}

    # Row pointers are stored in the bits the capacity can use (6 + 6 for 37 synapses):
    # every row of a valid configuration (start + count <= cap) reads back as written,
    # the extremes included; of a word that does not fit, the low bits of each field stay.
    stored = row_storage(cap)
    assert (stored["start"].shape.width, stored["count"].shape.width) == (6, 6)
    rows = [(0, cap), (cap, 0), (cap - 1, 1), (5, 0)]

    def row_word(k):
        if k < len(rows):
            start, count = rows[k]
        elif k % 2:
            start = int(rng.integers(0, cap + 1))
            count = int(rng.integers(0, cap - start + 1))
        else:
            word = int(rng.integers(0, 1 << 62)) | (int(rng.integers(0, 1 << 18)) << 62)
            row = data.Const(spec.RowPtr, word & ((1 << spec.RowPtr.size) - 1))
            return word, _pack_row(row.start & 63, row.count & 63)
        return _pack_row(start, count), _pack_row(start, count)

    async def main(ctx):
        model = {}
        for region, depth in depths.items():
            for k in range(depth):
                # junk in the high bits of data must be dropped
                word = int(rng.integers(0, 1 << 62)) | (int(rng.integers(0, 1 << 18)) << 62)
                expect = word & ((1 << widths[region]) - 1)
                if region is Region.ROWPTR:
                    word, expect = row_word(k)
                assert await mem_op(ctx, dut, region, k, word, write=True, rng=rng,
                                    gap=0.3, stall=0.3) == 0
                model[region, k] = expect
        await mem_op(ctx, dut, Region.CTRL, Ctrl.W_SHIFT.value, 0xFD, write=True)
        await mem_op(ctx, dut, Region.CTRL, Ctrl.STEP.value, (1 << 40) | 0x89ABCDEF, write=True)
        # out-of-range writes are ignored (indices that would alias in-range words if
        # truncated to the address width)
        for region, depth in depths.items():
            for k in (depth, 1 << 12, (1 << spec.MEM_INDEX_WIDTH) - 1):
                if k >= depth:
                    assert await mem_op(ctx, dut, region, k, 0x5A5A5, write=True) == 0
        await mem_op(ctx, dut, Region.CTRL, 2, 7, write=True)
        await mem_op(ctx, dut, 6, 0, 7, write=True)
        await mem_op(ctx, dut, 7, 1, 7, write=True)
        for (region, k), word in sorted(model.items(), key=lambda kv: rng.random()):
            got = await mem_op(ctx, dut, region, k, rng=rng, gap=0.2, stall=0.5)
            assert got == word, f"{region.name}[{k}]: wrote {word:#x}, read {got:#x}"
        assert await mem_op(ctx, dut, Region.CTRL, Ctrl.W_SHIFT.value) == 0xFD & 7
        assert await mem_op(ctx, dut, Region.CTRL, Ctrl.STEP.value) == 0x89ABCDEF
        # out-of-range reads return 0
        for region, depth in depths.items():
            assert await mem_op(ctx, dut, region, depth) == 0
            assert await mem_op(ctx, dut, region, (1 << spec.MEM_INDEX_WIDTH) - 1) == 0
        assert await mem_op(ctx, dut, Region.CTRL, 2) == 0
        assert await mem_op(ctx, dut, 6, 0) == 0
        assert await mem_op(ctx, dut, 7, 3) == 0
        assert ctx.get(dut.o_idle) == 1

    simulate(dut, main)


def _pack_row(start, count):
    return spec.pack(spec.RowPtr, start=start, count=count)


def test_row_storage_widths():
    """The row-pointer fields hold 0 .. syn_capacity (count at most MAX_FANOUT)."""
    for cap, widths in ((1, (1, 1)), (2, (2, 2)), (37, (6, 6)), (32767, (15, 15)),
                        (32768, (16, 16)), (65536, (17, 16)),
                        (spec.MAX_SYNAPSES, (spec.SYN_ADDR_WIDTH, spec.FANOUT_WIDTH))):
        layout = row_storage(cap)
        assert (layout["start"].shape.width, layout["count"].shape.width) == widths, cap


def test_memory_init_from_config():
    """A core built with a cfg holds exactly the memory_init words."""
    cfg = random_config(5, n_neurons=8, n_inputs=3)
    dut = NeuronCore(cfg, n_inputs=5)
    init = memory_init(cfg, n_inputs=5)

    async def main(ctx):
        for region in (Region.STATE, Region.PROFILE, Region.ROWPTR, Region.SYNAPSE,
                       Region.CTRL):
            for k, word in enumerate(init[region]):
                assert await mem_op(ctx, dut, region, k) == word, f"{region.name}[{k}]"
        for k in range(0, 8 * SLOTS, 7):
            assert await mem_op(ctx, dut, Region.ACC, k) == 0

    simulate(dut, main)


# --- golden agreement ------------------------------------------------------------------
@pytest.mark.parametrize("seed,n_neurons,n_inputs,steps,bank", [
    (23, 8, 4, 14, None), (2, 16, 6, 10, 32), (12, 32, 8, 6, None), (4, 16, 5, 10, 64)])
def test_random_configs_match_golden(seed, n_neurons, n_inputs, steps, bank):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=n_neurons, n_inputs=n_inputs,
                        max_fanout=n_neurons)
    inputs = random_inputs(rng, n_inputs, steps)
    dut = NeuronCore(cfg, syn_bank_depth=bank)
    if bank:
        assert dut.syn_banks == -(-cfg.n_synapses // bank) > 2
    gold = run_lockstep(cfg, inputs, dut=dut, seed=seed)
    # the run must not be trivial
    assert gold.synaptic_events > 100 and gold.n_spikes >= 20


def test_long_run_spike_agreement():
    """More steps, state compared at the end only (spikes compared every step)."""
    rng = np.random.default_rng(21)
    cfg = random_config(rng, n_neurons=16, n_inputs=4, max_fanout=12)
    run_lockstep(cfg, random_inputs(rng, 4, 40), seed=21, full_state=False)


def test_config_upload_through_mem_port():
    """Core built without a cfg; the config is written with config_words, then it runs."""
    rng = np.random.default_rng(8)
    cfg = random_config(rng, n_neurons=16, n_inputs=4, max_fanout=10)
    dut = NeuronCore(n_neurons=16, n_inputs=6, syn_capacity=cfg.n_synapses + 5,
                     syn_bank_depth=16)
    run_lockstep(cfg, random_inputs(rng, 4, 8), dut=dut, upload=True, seed=8,
                 extra_channels=[4, 5, 6, 100, (1 << spec.CHANNEL_WIDTH) - 1])


def test_reupload_after_running_restarts_cleanly():
    """Uploading a config over a core that has run (pending spikes, dirty accumulators)."""
    rng = np.random.default_rng(9)
    cfg = random_config(rng, n_neurons=8, n_inputs=3, max_fanout=8)
    cfg.bias[:] = 3000      # make sure there are pending spikes at the re-upload
    cfg.threshold[:] = np.minimum(cfg.threshold, 2000)
    cfg.refractory[:] = 0
    dut = NeuronCore(cfg)
    inputs = random_inputs(rng, 3, 4)
    spikes = []

    async def consumer(ctx):
        while True:
            spikes.append(await get(ctx, dut.o_spikes))

    async def main(ctx):
        for chans in inputs:    # dirty the core
            await put_all(ctx, dut.i_events, [{"channel": int(c), "eos": 0} for c in chans]
                          + [{"channel": 0, "eos": 1}])
        await mem_op(ctx, dut, Region.CTRL, Ctrl.STEP.value)
        assert any(not s.eos for s in spikes)
        for region, index, word in config_words(cfg):
            await mem_op(ctx, dut, region, index, word, write=True)
        spikes.clear()
        gold = golden_core.NeuronCore(cfg)
        for t, chans in enumerate(inputs):
            await put_all(ctx, dut.i_events, [{"channel": int(c), "eos": 0} for c in chans]
                          + [{"channel": 0, "eos": 1}])
            await mem_op(ctx, dut, Region.CTRL, Ctrl.STEP.value)
            while not spikes or not spikes[-1].eos:
                await ctx.tick()
            assert [s.neuron for s in spikes[:-1]] == gold.step(chans).tolist()
            spikes.clear()
        compare_state(len(inputs), await read_state(ctx, dut), gold, cfg)

    simulate(dut, main, background=[consumer])


def test_free_running_steps():
    """Steps back to back: the next step's events arrive while the spikes of the last one
    are still queued (random gaps and back-pressure); spikes of every step and the final
    state are compared."""
    rng = np.random.default_rng(37)
    cfg = random_config(rng, n_neurons=16, n_inputs=6, max_fanout=16)
    inputs = random_inputs(rng, 6, 25)
    dut = NeuronCore(cfg)
    gold = golden_core.NeuronCore(cfg)
    expect = [gold.step(chans).tolist() for chans in inputs]
    got = [[]]

    async def producer(ctx):
        prng = np.random.default_rng(32)
        for chans in inputs:
            await put_all(ctx, dut.i_events, [{"channel": int(c), "eos": 0} for c in chans]
                          + [{"channel": 0, "eos": 1}], rng=prng, gap=0.2)

    async def main(ctx):
        crng = np.random.default_rng(33)
        while len(got) <= len(inputs):
            payload = await get(ctx, dut.o_spikes, rng=crng, stall=0.5)
            if payload.eos:
                got.append([])
            else:
                got[-1].append(payload.neuron)
        got.pop()
        for t, (e, g) in enumerate(zip(expect, got)):
            assert g == e, f"step {t}: spikes expected {e}, got {g}"
        compare_state(len(inputs) - 1, await read_state(ctx, dut), gold, cfg)

    simulate(dut, main, producer)
    assert sum(map(len, expect)) > 20


def test_synapse_with_out_of_range_target_is_ignored():
    """A synapse whose target is not a neuron of the core (written through the memory
    port; the config validator never produces one) must not alias onto another neuron."""
    cfg = directed_config()
    k = int(cfg.fanout_ptr[cfg.n_neurons + 3])          # channel 3: one synapse on neuron 3
    assert cfg.fanout_ptr[cfg.n_neurons + 4] - k == 1 and cfg.syn_target[k] == 3
    bad_target = cfg.n_neurons + 3                      # aliases neuron 3 if truncated
    word = spec.pack(spec.Synapse, target=bad_target, weight=cfg.syn_weight[k], delay=0)
    ref_cfg = directed_config()
    ref_cfg.syn_weight[k] = 0                           # the synapse has no effect
    dut = NeuronCore(cfg)
    gold = golden_core.NeuronCore(ref_cfg)

    async def main(ctx):
        ctx.set(dut.o_spikes.ready, 1)
        await mem_op(ctx, dut, Region.SYNAPSE, k, word, write=True)
        for chans in ([3], [3, 3 + 1], [3]):
            await put_all(ctx, dut.i_events, [{"channel": c, "eos": 0} for c in chans]
                          + [{"channel": 0, "eos": 1}])
            gold.step(chans)
        await mem_op(ctx, dut, Region.CTRL, Ctrl.STEP.value)
        compare_state(2, await read_state(ctx, dut), gold, ref_cfg)

    simulate(dut, main)


def directed_config(n_neurons=8, w_shift=2):
    """Rows designed to hit the accumulator read-modify-write hazards:

    channel 0: 40 synapses on the same word (target 3, delay 1), weights -128..127;
    channel 1: alternating words A, B, A, B, ... (targets 1/6, same delay) and pairs;
    channel 2: the same target with delays cycling, then repeating (slot hazards);
    channels 3..7: one synapse each, all on target 3 delay 1 (hazards across rows);
    channel 8: no synapses (zero fan-out between rows);
    neuron 0 and 5 spike every step (bias) and project onto target 3 as well.
    """
    rng = np.random.default_rng(77)
    rows = {s: [] for s in range(n_neurons + 9)}
    inp = n_neurons
    rows[inp + 0] = [(3, int(w), 1) for w in rng.integers(-128, 128, 40)]
    pattern = [1, 6, 1, 6, 1, 1, 6, 6, 1, 6, 6, 1, 1, 1, 6, 1]
    rows[inp + 1] = [(t, int(w), 2) for t, w in zip(pattern, rng.integers(-128, 128, 16))]
    rows[inp + 2] = [(4, int(w), 1 + (k // 2) % 8) for k, w in
                     enumerate(rng.integers(-128, 128, 24))]
    for c in range(3, 8):
        rows[inp + c] = [(3, int(rng.integers(-128, 128)), 1)]
    rows[0] = [(3, 17, 1), (3, -9, 1), (2, 5, 1)]
    rows[5] = [(3, 100, 1), (2, -5, 3)]
    counts = [len(rows[s]) for s in range(n_neurons + 9)]
    syn = [x for s in range(n_neurons + 9) for x in rows[s]]
    ptr = np.concatenate([[0], np.cumsum(counts)])
    n_prof = 2
    return CoreConfig(
        n_neurons=n_neurons, n_inputs=9, w_shift=w_shift,
        decay_i=[4096, 4096], decay_v=[4096, 0], threshold=[32767, 100], bias=[0, 200],
        v_reset=[0, 0], reset=[0, 1], refractory=[0, 0],
        profile=[1, 0, 0, 0, 0, 1, 0, 0], fanout_ptr=ptr,
        syn_target=[x[0] for x in syn], syn_weight=[x[1] for x in syn],
        syn_delay=[x[2] for x in syn]).validate()


def test_accumulator_hazards():
    cfg = directed_config()
    inputs = [[0], [1], [2], [3, 4, 5, 6, 7], [0, 8, 1, 8, 3, 4], [8, 2, 0, 7, 1, 6],
              [], [0, 1, 2, 3, 4, 5, 6, 7, 8], [8], [2, 2 + 1]]
    # no valid gaps, no stalls: events and synapses back to back at full rate
    run_lockstep(cfg, inputs, gap=0.0, stall=0.0, seed=3)
    run_lockstep(cfg, inputs, gap=0.5, stall=0.6, seed=4)


@pytest.mark.parametrize("seed,stall", [(31, 0.3), (32, 0.8)])
def test_memory_spike_fifo_matches_golden(seed, stall):
    """``spike_fifo="memory"`` (the iCEBreaker encoder tops' choice): spikes and the
    whole state equal golden at every step, with ``o_spikes`` throttled so that the FIFO
    fills, and the step takes the same clocks as with the flip-flop FIFO."""
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=32, n_inputs=6, max_fanout=24)
    cfg.bias[:8] = spec.STATE_MAX          # eight neurons fire every step they may
    inputs = random_inputs(rng, 6, 8)
    gold = run_lockstep(cfg, inputs, dut=NeuronCore(cfg, spike_fifo="memory"), seed=seed,
                        stall=stall)
    assert gold.synaptic_events > 100 and gold.n_spikes >= 40
    if seed == 31:
        busy = measure_step_cycles(cfg, inputs[:3], spike_fifo="memory")
        assert busy == measure_step_cycles(cfg, inputs[:3])


def test_all_neurons_fire_under_back_pressure():
    """Every neuron spikes every step while o_spikes is heavily throttled."""
    cfg = random_config(12, n_neurons=32, n_inputs=2, max_fanout=3)
    cfg.threshold[:] = 1
    cfg.bias[:] = spec.STATE_MAX
    cfg.refractory[:] = 0
    cfg.decay_v[:] = 0
    run_lockstep(cfg, [[0, 1], [1], []], stall=0.8, seed=12)


# --- throughput ------------------------------------------------------------------------
def expected_cycles(n_neurons, fanouts):
    """Busy clocks of one step at full input rate without back-pressure.

    ``fanouts``: fan-out of every delivered event in delivery order (pending spikes, then
    external events). The walker spends max(1, fan-out) clocks per event; up to 6 clocks of
    the tail of the synapse pipeline are hidden behind trailing zero-fan-out events.
    """
    fanouts = list(fanouts)
    syn = sum(fanouts)
    zero = sum(1 for f in fanouts if f == 0)
    base = n_neurons + syn + zero + CubaLif.LATENCY + 7
    if not fanouts:
        return base
    if syn == 0:
        return base + 1
    trailing = len(fanouts) - 1 - max(k for k, f in enumerate(fanouts) if f)
    return base + max(1, 7 - trailing)


def measure_step_cycles(cfg, inputs, **core_args):
    """Busy clocks (``o_idle`` low) of each step with inputs at full rate and no
    back-pressure, and the fan-outs of the events delivered in each step."""
    dut = NeuronCore(cfg, **core_args)
    busy = []

    async def counter(ctx):
        count = 0
        async for _, _, idle in ctx.tick().sample(dut.o_idle):
            if not idle:
                count += 1
            elif count:
                busy.append(count)
                count = 0

    async def main(ctx):
        ctx.set(dut.o_spikes.ready, 1)
        for chans in inputs:
            await put_all(ctx, dut.i_events, [{"channel": int(c), "eos": 0} for c in chans]
                          + [{"channel": 0, "eos": 1}])
            await ctx.tick().until(dut.o_idle)
            await ctx.tick().repeat(3)

    simulate(dut, main, background=[counter])
    gold = golden_core.NeuronCore(cfg)
    counts = np.diff(cfg.fanout_ptr)
    fanouts = []
    for chans in inputs:
        sources = np.concatenate([gold.state.pending, cfg.n_neurons + np.asarray(chans, int)])
        fanouts.append(counts[sources.astype(int)].tolist())
        gold.step(chans)
    assert len(busy) == len(inputs)
    return busy, fanouts


def test_cycles_per_step_random():
    n = 32
    rng = np.random.default_rng(5)
    cfg = random_config(rng, n_neurons=n, n_inputs=16, max_fanout=20)
    inputs = random_inputs(rng, 16, 12, density=0.6) + [[]]
    busy, fanouts = measure_step_cycles(cfg, inputs)
    for t, (cycles, fan) in enumerate(zip(busy, fanouts)):
        assert cycles == expected_cycles(n, fan), (t, cycles, fan)
        # the headline formula: N + synapses + zero-fan-out events + LATENCY + 14
        assert cycles <= n + sum(fan) + fan.count(0) + CubaLif.LATENCY + 14
    assert sum(map(sum, fanouts)) > 500


def test_cycles_per_step_zero_fanout_events():
    cfg = directed_config()      # channel 8 has no synapses; neurons 0 and 5 spike
    inputs = [[], [8], [8, 8, 8, 8], [0, 8], [0, 8, 8], [0, 8, 8, 8, 8, 8], [8, 0],
              [3, 8, 4, 8, 5], [1, 2, 3], [8, 8, 1, 8], [8] * 9]
    busy, fanouts = measure_step_cycles(cfg, inputs)
    assert fanouts[0] == [] and fanouts[1][-1] == 0
    for t, (cycles, fan) in enumerate(zip(busy, fanouts)):
        assert cycles == expected_cycles(cfg.n_neurons, fan), (t, cycles, fan)
    # a silent network: steps without events, and with events but no synapses
    cfg.bias[:] = 0
    busy, fanouts = measure_step_cycles(cfg, [[], [8], [8] * 3, []])
    assert fanouts == [[], [0], [0, 0, 0], []]
    for t, (cycles, fan) in enumerate(zip(busy, fanouts)):
        assert cycles == expected_cycles(cfg.n_neurons, fan), (t, cycles, fan)


# --- the output FIFO ---------------------------------------------------------------------
@pytest.mark.parametrize("depth", [2, 16])
def test_spike_fifo_is_sync_fifo_buffered(depth):
    """The core's flip-flop FIFO behaves as ``SyncFIFOBuffered`` cycle for cycle."""
    from amaranth import Module
    from amaranth.lib import fifo
    from neurofab.rtl.core import _SpikeFifo
    m = Module()
    m.submodules.ref = ref = fifo.SyncFIFOBuffered(width=9, depth=depth)
    m.submodules.dut = dut = _SpikeFifo(width=9, depth=depth)
    rng = np.random.default_rng(depth)

    async def bench(ctx):
        for t in range(3000):
            p_w, p_r = (0.8, 0.3) if (t // 200) % 2 else (0.4, 0.9)
            w_en, r_en, word = rng.random() < p_w, rng.random() < p_r, int(rng.integers(512))
            for f in (ref, dut):
                ctx.set(f.w_en, w_en)
                ctx.set(f.r_en, r_en)
                ctx.set(f.w_data, word)
            for name in ("w_rdy", "r_rdy", "level"):
                assert ctx.get(getattr(dut, name)) == ctx.get(getattr(ref, name)), (t, name)
            if ctx.get(ref.r_rdy):
                assert ctx.get(dut.r_data) == ctx.get(ref.r_data), t
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
