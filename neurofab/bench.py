"""``make bench``: performance figures, each measured in this run (ratios, not timings).

Sections register themselves in ``SECTIONS``; ``run_all`` prints and returns a dict.
"""

import time

import numpy as np

from . import spec
from .config import CoreConfig

__all__ = ["run_all", "big_config", "busy_config", "SECTIONS"]


def big_config(n_neurons=65536, n_inputs=256, fanout=64, *, seed=0):
    """A random sparse network built directly as CSR (a dense builder would not fit)."""
    rng = np.random.default_rng(seed)
    n_src = n_neurons + n_inputs
    n_syn = n_src * fanout
    src = np.repeat(np.arange(n_src), fanout)
    inhibitory = (src < n_neurons) & (src % 5 == 0)
    weight = np.where(inhibitory, rng.integers(-40, -10, n_syn), rng.integers(1, 20, n_syn))
    return CoreConfig(
        n_neurons=n_neurons, n_inputs=n_inputs, w_shift=3,
        decay_i=[1024], decay_v=[256], threshold=[1500], bias=[10], v_reset=[0],
        reset=[spec.Reset.TO_VRESET.value], refractory=[2],
        profile=np.zeros(n_neurons, dtype=np.int64),
        fanout_ptr=np.arange(n_src + 1) * fanout,
        syn_target=rng.integers(0, n_neurons, n_syn), syn_weight=weight,
        syn_delay=rng.integers(1, 9, n_syn))


def busy_config(n_neurons=256, n_inputs=64, *, busy=1.0, fanout=4, seed=0):
    """A spike-heavy network: a fraction ``busy`` of the neurons (threshold 1, bias 100,
    excitatory input only) fires in every step, the others are leaky integrators driven
    by sparse random synapses (delays 1..8)."""
    rng = np.random.default_rng(seed)
    n_src = n_neurons + n_inputs
    n_busy = int(round(busy * n_neurons))
    profile = np.where(np.arange(n_neurons) < n_busy, 0, 1)
    rng.shuffle(profile)
    counts = rng.integers(0, fanout + 1, n_src)
    n_syn = int(counts.sum())
    return CoreConfig(
        n_neurons=n_neurons, n_inputs=n_inputs, w_shift=4,
        decay_i=[0, 1024], decay_v=[0, 512], threshold=[1, 600], bias=[100, 20],
        v_reset=[0, 0], reset=[spec.Reset.TO_VRESET.value] * 2, refractory=[0, 1],
        profile=profile, fanout_ptr=np.concatenate([[0], np.cumsum(counts)]),
        syn_target=rng.integers(0, n_neurons, n_syn), syn_weight=rng.integers(1, 40, n_syn),
        syn_delay=rng.integers(1, 9, n_syn)).validate()


def loop_baseline(cfg, inputs):
    """A plain per-synapse Python loop (what the golden model must beat)."""
    from .golden.lif import cuba_lif_step
    n = cfg.n_neurons
    i = v = ref = np.zeros(n, dtype=np.int64)
    acc = np.zeros((spec.DELAY_SLOTS, n), dtype=np.int64)
    pending, events = [], 0
    params = cfg.neuron_params()
    for t, chans in enumerate(inputs):
        for s in list(pending) + [n + int(c) for c in chans]:
            for k in range(cfg.fanout_ptr[s], cfg.fanout_ptr[s + 1]):
                acc[(t + cfg.syn_delay[k] - 1) % 8, cfg.syn_target[k]] += \
                    int(cfg.syn_weight[k]) << cfg.w_shift
                events += 1
        i, v, ref, spk = cuba_lif_step(i, v, ref, acc[t % 8], params)
        acc[t % 8] = 0
        pending = np.flatnonzero(spk)
    return events


def bench_golden(say, quick):
    from .golden import NeuronCore
    from .examples import poisson_inputs
    n = 8192 if quick else 65536
    steps = 20 if quick else 50
    cfg = big_config(n)
    inputs = poisson_inputs(cfg.n_inputs, steps, rate=0.2, seed=1)
    core = NeuronCore(cfg)
    t = time.perf_counter()
    spikes = sum(len(core.step(c)) for c in inputs)
    wall = time.perf_counter() - t
    upd = n * steps / wall
    syn = core.synaptic_events / wall
    small = big_config(2048, 256, 64, seed=2)
    sin = poisson_inputs(256, 30, rate=0.5, seed=3)
    gc = NeuronCore(small)
    t = time.perf_counter()
    for c in sin:
        gc.step(c)
    g_rate = gc.synaptic_events / (time.perf_counter() - t)
    t = time.perf_counter()
    ev = loop_baseline(small, sin)
    l_rate = ev / (time.perf_counter() - t)
    say(f"golden: {n}-neuron core, {cfg.n_synapses} synapses, {steps} steps, {spikes} spikes: "
        f"{upd / 1e6:.2f} M neuron-updates/s, {syn / 1e6:.2f} M synaptic events/s")
    say(f"golden vs per-synapse Python loop (2048 neurons): {g_rate / l_rate:.0f}x "
        f"({g_rate / 1e6:.2f} vs {l_rate / 1e6:.3f} M synaptic events/s)")
    return {"golden_neurons": n, "golden_neuron_updates_per_s": round(upd),
            "golden_synaptic_events_per_s": round(syn),
            "golden_vs_loop_ratio": round(g_rate / l_rate, 1)}


def bench_golden_reference(say, quick):
    from .bench_golden import bench_reference as run
    return run(say, quick)


def _kernel_params(kernel, rng, n):
    """Per-neuron parameters of ``n`` neurons of ``kernel``: the profiles of a random config
    (every parameter at both ends of its limit in some profile), drawn at random."""
    from .config import random_config
    cfg = random_config(rng, n_neurons=16, n_inputs=4, max_fanout=4, kernel=kernel)
    idx = rng.integers(0, len(getattr(cfg, kernel.param_fields[0])), n)
    return {name: np.asarray(getattr(cfg, name), dtype=np.int64)[idx]
            for name in kernel.param_fields}


def _bench_kernel_step(kernel, n, steps, seed):
    """Neuron updates per second of ``kernel.step`` alone on ``n`` neurons (random
    profiles, random accumulator inputs, the state fed back)."""
    rng = np.random.default_rng(seed)
    params = _kernel_params(kernel, rng, n)
    state = kernel.initial_state(params)
    accs = [rng.integers(-(1 << 11), 1 << 11, n) for _ in range(4)]
    spikes = 0
    t = time.perf_counter()
    for k in range(steps):
        state, spk = kernel.step(state, accs[k % len(accs)], params)
        spikes += int(np.count_nonzero(spk))
    wall = time.perf_counter() - t
    return n * steps / wall, spikes


def _bench_kernel_core(kernel, n, steps, seed):
    """``golden.run`` on a random config of ``kernel``: neuron updates and synaptic events
    per second."""
    from .config import random_config
    from .examples import poisson_inputs
    from .golden.core import NeuronCore
    cfg = random_config(np.random.default_rng(seed), n_neurons=n, n_inputs=256,
                        max_fanout=32, kernel=kernel)
    inputs = cfg.check_inputs(poisson_inputs(cfg.n_inputs, steps, rate=0.1, seed=seed))
    core = NeuronCore(cfg)
    t = time.perf_counter()
    spikes = sum(len(core.step(c)) for c in inputs)
    wall = time.perf_counter() - t
    return n * steps / wall, core.synaptic_events / wall, spikes, cfg.n_synapses


#: Core geometry of the per-kernel Verilator cosim: (neurons, inputs, synapse capacity,
#: steps), full and quick. The quick geometry is the one ``tests/cosim/test_kernels.py``
#: and ``tests/cosim/test_core.py`` build, so a test session shares its Verilator builds.
KERNEL_COSIM = {False: (256, 64, 8192, 20), True: (32, 8, 2048, 5)}


def _bench_kernel_cosim(kernel, quick, seed):
    """The Verilator core cosim of ``kernel`` (random config with extremes, the densest
    fan-out whose worst case fits the synapse memory, random inputs, gap = stall = 0.3,
    full state compared after every step): its summary, the build made before timing."""
    from .config import random_config
    from .cosim.core import random_inputs, run_core_cosim
    from .cosim.verilator import build as vbuild
    from .rtl.core import NeuronCore
    n, n_in, cap, steps = KERNEL_COSIM[quick]
    rng = np.random.default_rng([seed, 0x4B])
    cfg = random_config(rng, n_neurons=n, n_inputs=n_in,
                        max_fanout=max(1, (cap - (n + n_in)) // (n + n_in)),
                        kernel=kernel)
    inputs = random_inputs(rng, n_in, steps, per_step=4)
    vbuild(NeuronCore(None, n_neurons=n, n_inputs=n_in, syn_capacity=cap, kernel=kernel),
           name="neurofab_core")
    return run_core_cosim(cfg, inputs, backend="verilator", seed=seed, gap=0.3, stall=0.3,
                          check_state="every", syn_capacity=cap).summary()


def bench_kernels(say, quick):
    """Per neuron kernel: golden ``kernel.step`` alone (65536 neurons), the golden core on
    a random config of the kernel (16384 neurons, 256 inputs, fan-out up to 32), and the
    Verilator core cosim (256 neurons, full state compared every step): simulated cycles/s.
    Returns ``{"kernels": {name: {...}}}``."""
    from .kernels import KERNELS
    n_step = 8192 if quick else 65536
    step_steps = 10 if quick else 40
    n_core = 2048 if quick else 16384
    core_steps = 10 if quick else 30
    out = {}
    for j, (name, kernel) in enumerate(KERNELS.items()):
        step_rate, _ = _bench_kernel_step(kernel, n_step, step_steps, seed=j)
        core_rate, syn_rate, spikes, n_syn = _bench_kernel_core(kernel, n_core, core_steps,
                                                                seed=j)
        cos = _bench_kernel_cosim(kernel, quick, seed=j)
        out[name] = {
            "step_neurons": n_step, "step_neuron_updates_per_s": round(step_rate),
            "core_neurons": n_core, "core_synapses": int(n_syn), "core_steps": core_steps,
            "core_spikes": int(spikes), "core_neuron_updates_per_s": round(core_rate),
            "core_synaptic_events_per_s": round(syn_rate),
            "cosim_neurons": cos["params"]["neurons"], "cosim_steps": cos["steps"],
            "cosim_bit_exact": cos["bit_exact"], "cosim_cycles": cos["sim_cycles"],
            "cosim_cycles_per_step": cos["cycles_per_step"],
            "cosim_verilator_cycles_per_s": cos["cycles_per_s"],
            "cosim_wall_s": cos["wall_s"]}
        say(f"{name:11} golden step {step_rate / 1e6:6.2f} M updates/s ({n_step} neurons); "
            f"golden core {core_rate / 1e6:5.2f} M updates/s, {syn_rate / 1e6:5.2f} M "
            f"synaptic events/s ({n_core} neurons); Verilator cosim "
            f"{cos['cycles_per_s'] / 1e6:.2f} M cycles/s ({cos['params']['neurons']} "
            f"neurons, bit_exact {cos['bit_exact']})")
    return {"kernels": out}


def bench_simboard(say, quick):
    from .boards import sim_top
    from .host.simboard import measure_cycles_per_second
    top, divisor = sim_top("icebreaker")          # the real board top: link + core
    stats = measure_cycles_per_second(top, divisor=divisor, details=True,
                                      cycles=5_000_000 if quick else 20_000_000)
    wall, cpu = stats["cycles_per_second"], stats["cycles_per_cpu_second"]
    say(f"simulated iCEBreaker board top (Verilator, random bytes on the UART both ways): "
        f"{wall / 1e6:.2f} M cycles/s wall clock, {cpu / 1e6:.2f} M cycles per CPU second")
    return {"simboard_cycles_per_s": round(wall), "simboard_cycles_per_cpu_s": round(cpu)}


def bench_stream(say, quick):
    """``Board.stream`` on a simulated iCEBreaker of its own (the real board top under
    Verilator, its UART simulated bit by bit), fed by a generator.

    The stream is the densest there is: the board's power-on network (every memory zero,
    threshold 0) fires every neuron in every step, with 2 input channels per step. The
    figure of merit is ``stream_link_efficiency``: event bytes delivered (2 per spike)
    per byte the board's transmit line could carry in the same simulated time, ``cycles /
    (10 * divisor)`` (8N1). The simulated cycles are the board process's own count (its
    ``--stats`` at exit), every cycle of the session: IDENTIFY, the stream, and the few
    thousand idle clocks before the host connected and after it left."""
    from .boards import sim_top
    from .host import Board
    from .host.simboard import SimBoardProcess, SimBoardError, build_simboard
    top, divisor = sim_top("icebreaker")
    binary = build_simboard(top)
    steps = 150 if quick else 1500
    rng = np.random.default_rng(0)
    with SimBoardProcess(binary, divisor, stats=True, idle_cycles=1024) as proc:
        with Board.open(proc.url) as board:
            n, n_in, clk = board.info.n_neurons, board.info.n_inputs, board.info.clk_hz
            every = np.arange(n)

            def inputs():
                for _ in range(steps):
                    yield rng.choice(n_in, 2, replace=False)

            events, t0 = 0, time.perf_counter()
            for t, spikes in enumerate(board.stream(inputs())):
                if not np.array_equal(spikes, every):
                    raise RuntimeError(f"stream bench: step {t} returned {spikes.size} "
                                       f"spikes, not all {n} neurons")
                events += spikes.size
            wall = time.perf_counter() - t0
            rx = board.stats.rx_bytes
        proc.close()
    stats = proc.stats
    if "cycles" not in stats:
        raise SimBoardError(f"the simulated board reported no stats:\n{proc.stderr_text()}")
    cycles, sim_rate = stats["cycles"], stats["cycles_per_second"]
    useful = events * spec.EVENT_INDEX_BYTES
    bound = cycles / (10 * divisor)
    eff = useful / bound
    say(f"stream on the simulated iCEBreaker ({n} neurons all firing every step, {steps} "
        f"steps, default window): {steps / wall:.0f} steps/s, {events / wall / 1e3:.0f} k "
        f"events/s wall clock at {sim_rate / 1e6:.2f} M simulated cycles/s")
    say(f"  link efficiency {eff:.3f}: {useful} event bytes in {cycles} cycles, whose "
        f"line (divisor {divisor}, 10 bits a byte) carries {bound:.0f} bytes; {rx} bytes "
        f"received. At the board's {clk / 1e6:.0f} MHz: {steps * clk / cycles:.0f} "
        f"steps/s, {events * clk / cycles / 1e6:.2f} M events/s")
    return {"stream_steps_per_s": round(steps / wall, 1),
            "stream_events_per_s": round(events / wall),
            "stream_link_efficiency": round(eff, 4),
            "stream_sim_cycles_per_s": round(sim_rate),
            "stream_board_steps_per_s": round(steps * clk / cycles, 1),
            "stream_board_events_per_s": round(events * clk / cycles)}


def bench_link(say, quick):
    """Protocol efficiency on the demo network's spike stream, and host codec speed."""
    from . import golden
    from .examples import demo_config, poisson_inputs
    from .host import codec
    cfg = demo_config()
    steps = 200
    spikes = golden.run(cfg, poisson_inputs(cfg.n_inputs, steps, rate=0.1))
    # READ_EVENTS replies carrying the stream, each filled to the protocol's max payload
    records = codec.pack_records(spikes)
    head = spec.EventsHeader.size // 8
    room = spec.MAX_PAYLOAD - head
    room -= room % 2
    request = len(codec.encode_frame(spec.Opcode.READ_EVENTS, 0))
    wire = 0
    for k in range(0, len(records), room):
        payload = bytes(head) + records[k:k + room]
        wire += request + len(codec.encode_frame(spec.reply_opcode(spec.Opcode.READ_EVENTS), 0,
                                                 payload))
    n_events = sum(len(x) for x in spikes)
    useful = n_events * spec.EVENT_INDEX_BYTES
    eff = useful / wire
    # host codec speed: pack + unpack of a long event stream
    rng = np.random.default_rng(0)
    big = [rng.choice(4096, 200, replace=False) for _ in range(2000 if quick else 10000)]
    t = time.perf_counter()
    data = codec.pack_records(big)
    idx, ends = codec.unpack_records(data)
    dt = time.perf_counter() - t
    rate = idx.size / dt
    say(f"protocol: {n_events} spikes in {steps} steps -> {wire} wire bytes (frames incl. "
        f"requests, COBS, CRC, delimiters): efficiency {eff:.3f} event bytes / wire byte")
    say(f"host codec: {rate / 1e6:.1f} M events/s (pack + unpack of event records)")
    return {"protocol_efficiency": round(eff, 4), "codec_events_per_s": round(rate)}


def bench_cosim(say, quick):
    """Verilator vs Amaranth simulator on the same 256-neuron core run (state every step):
    wall-time ratio and the simulated clock cycles per second of each (every cycle: steps,
    upload and the full-state readback after every step)."""
    from .cosim.core import compare_backends
    steps = 10 if quick else 30
    r = compare_backends(neurons=256, steps=steps, seed=0, check_state="every")
    a, v = r["amaranth"], r["verilator"]
    say(f"cosim, 256-neuron core, {steps} steps, full state checked every step: Verilator "
        f"{v['wall_s']:.2f} s vs Amaranth simulator {a['wall_s']:.1f} s = {r['ratio']:.1f}x "
        f"(bit_exact {r['bit_exact']}); {v['cycles_per_step']:.0f} cycles/step")
    say(f"  simulated cycles/s: Verilator {v['cycles_per_s'] / 1e6:.2f} M, Amaranth "
        f"{a['cycles_per_s'] / 1e3:.1f} k ({v['sim_cycles']} cycles each run; "
        f"sim-time ratio {a['sim_s'] / v['sim_s']:.0f}x)")
    return {"cosim_verilator_vs_amaranth": r["ratio"], "cosim_bit_exact": r["bit_exact"],
            "core_cycles_per_step": v["cycles_per_step"],
            "cosim_verilator_cycles_per_s": v["cycles_per_s"],
            "cosim_amaranth_cycles_per_s": a["cycles_per_s"],
            "cosim_sim_time_ratio": round(a["sim_s"] / v["sim_s"], 1) if v["sim_s"] else None}


def bench_stochastic(say, quick):
    from .bench_encoders import bench_stochastic as run
    return run(say, quick)


def bench_gatelevel(say, quick):
    from .bench_gatelevel import bench_gatelevel as run
    return run(say, quick)


def bench_fabric(say, quick):
    from .bench_fabric import bench_fabric as run
    return run(say, quick)


def bench_boards(say, quick):
    """Per board: fmax, LUTs, synaptic ops/s at fmax and per LUT (cached builds)."""
    from .boards import BOARDS
    from .console import Console, build_board
    con = Console(json_mode=True)
    out = {}
    names = ["icebreaker"] if quick else ["icebreaker", "ulx3s", "tang-nano-9k"]
    for name in names:
        _, s = build_board(name, con)
        per_lut = s["synaptic_ops_per_s"] / s["luts"]
        say(f"{name:13} fmax {s['fmax_mhz']:6.2f} MHz (target {s['target_mhz']:.0f}), "
            f"{s['luts']:5}/{s['luts_total']} LUTs, {s['synaptic_ops_per_s'] / 1e6:6.1f} M "
            f"synaptic ops/s, {per_lut / 1e3:.1f} k ops/s per LUT")
        out[f"board_{name}"] = {k: s[k] for k in ("fmax_mhz", "target_mhz", "luts",
                                                   "luts_total", "synaptic_ops_per_s")}
        out[f"board_{name}"]["ops_per_s_per_lut"] = round(per_lut)
    assert set(names) <= set(BOARDS)
    return out


def _all_plastic(cfg):
    """``cfg`` with every synapse plastic under one STDP rule whose bounds are the weight
    range (the weights stay where they are until learning moves them)."""
    from .config import CoreConfig
    from .learning import STDP, Learning
    rule = STDP(a_plus=0.5, a_minus=0.5, w_min=spec.WEIGHT_MIN, w_max=spec.WEIGHT_MAX)
    table = {f: np.zeros(spec.RULE_COUNT, dtype=np.int64) for f in spec.RULE_FIELDS}
    for f, v in rule.rule(1.0).items():
        table[f][1] = v
    lc = Learning(np.ones(cfg.n_synapses, dtype=np.int64), **rule.traces(1.0), **table,
                  **{f: np.zeros(cfg.n_profiles, dtype=np.int64) for f in spec.HOMEO_FIELDS})
    return CoreConfig(n_neurons=cfg.n_neurons, n_inputs=cfg.n_inputs, w_shift=cfg.w_shift,
                      kernel=cfg.kernel, **cfg.profile_table(), profile=cfg.profile,
                      fanout_ptr=cfg.fanout_ptr, syn_target=cfg.syn_target,
                      syn_weight=cfg.syn_weight, syn_delay=cfg.syn_delay,
                      learning=lc).validate()


def bench_learning(say, quick):
    """Cycles per step of the same network with learning off and on (every synapse
    plastic, STDP), on the Verilator core cosim (bit-exact against golden, state checked
    every step): at a sparse input (4 events per step) and a dense one (every channel
    every step). The learn phase visits every synapse once per step, so the ratio falls
    as activity rises."""
    from .config import random_config
    from .cosim.core import random_inputs, run_core_cosim
    n, n_in, fanout, steps = (32, 16, 8, 5) if quick else (256, 64, 8, 20)
    rng = np.random.default_rng([0, 0x1EA])
    static = random_config(rng, n_neurons=n, n_inputs=n_in, max_fanout=fanout,
                           extremes=False)
    plastic = _all_plastic(static)
    out = {}
    for label, per_step in (("sparse", 4), ("dense", n_in)):
        inputs = random_inputs(np.random.default_rng(1), n_in, steps, per_step=per_step)
        cyc = {}
        for name, cfg in (("off", static), ("on", plastic)):
            r = run_core_cosim(cfg, inputs, backend="verilator", seed=0, gap=0, stall=0,
                               check_state="end").summary()
            if not r["bit_exact"]:
                raise RuntimeError(f"learning bench: {label}/{name} run is not bit-exact")
            cyc[name] = r["cycles_per_step"]
        ratio = cyc["on"] / cyc["off"]
        say(f"learning, {n} neurons, {static.n_synapses} synapses all plastic, {label} input "
            f"({per_step} events/step): {cyc['off']:.0f} cycles/step off, {cyc['on']:.0f} on "
            f"= {ratio:.2f}x")
        out[f"learning_cycles_per_step_off_{label}"] = round(cyc["off"], 1)
        out[f"learning_cycles_per_step_on_{label}"] = round(cyc["on"], 1)
        out[f"learning_cycle_ratio_{label}"] = round(ratio, 3)
    return out


SECTIONS = [("golden", bench_golden), ("golden reference network", bench_golden_reference),
            ("kernels", bench_kernels), ("cosim", bench_cosim),
            ("learning", bench_learning),
            ("gate level", bench_gatelevel), ("host link", bench_link),
            ("simulated board", bench_simboard), ("streaming", bench_stream),
            ("stochastic computing", bench_stochastic), ("AER fabric", bench_fabric),
            ("boards", bench_boards)]


def run_all(say=print, quick=False):
    results = {}
    for name, func in SECTIONS:
        say(f"== {name}")
        results.update(func(say, quick))
    return results
