"""The ``neurofab`` command line: ``demo | cosim | run | sim-board | boards | kernels |
fidelity | faults | fuzz | build | program | prove | bench``.

Every verb takes ``--json``: human-readable text then goes to stderr and the last line
of stdout is one JSON object. Errors are one line on stderr and exit status 2 — never a
bare traceback (``NEUROFAB_DEBUG=1`` re-raises for developers).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from .console import Console, build_board

__all__ = ["main"]


def _run_on_board(board, inputs, con, desc):
    """``board.run(inputs)`` with a progress bar: (spikes, seconds, status, link stats)."""
    with con.progress(len(inputs), desc) as bar:
        t_run = time.perf_counter()
        got = board.run(inputs, progress=lambda done, total: bar.update(done - bar.n))
        t_run = time.perf_counter() - t_run
    return got, t_run, board.status(), board.stats.as_dict()


def _same_spikes(gold, got):
    return len(gold) == len(got) and all(np.array_equal(a, b) for a, b in zip(gold, got))


# --- verbs ---------------------------------------------------------------------------
def cmd_cosim(args, con):
    from neurofab.cosim.registry import OPTIONS, cosim_block
    given = {"neurons": args.neurons, "cores": args.cores, "inputs_per_step": args.inputs,
             "kernel": args.kernel, "learning": args.learning}
    params = {k: given[k] for k in OPTIONS.get(args.block, ())}
    for option in ("kernel", "learning"):
        if given[option] is not None and option not in OPTIONS.get(args.block, ()):
            raise ValueError(f"--{option} is an option of the blocks "
                             f"{', '.join(b for b, o in OPTIONS.items() if option in o)}, "
                             f"not of {args.block}")
    with con.progress(args.steps, f"cosim {args.block}/{args.backend}") as bar:
        result = cosim_block(args.block, backend=args.backend, seed=args.seed,
                             steps=args.steps, gap=args.gap, stall=args.stall,
                             vcd_path=args.vcd, params=params,
                             progress=lambda done, total: bar.update(done - bar.n))
    con.say(result.report())
    return result.summary(), 0 if result.bit_exact else 1


def _demo_board(cfg):
    """The demo's board: the iCEBreaker, else the first registry board that hosts the
    config's kernel (``Board.for_kernel``) and holds the network."""
    from neurofab.boards import BOARDS
    for name in ("icebreaker", "tang-nano-9k", "ulx3s", *BOARDS):
        try:
            b = BOARDS[name].for_kernel(cfg.kernel)
            cfg.padded(b.n_neurons, b.n_inputs, n_synapses=b.syn_capacity)
            return name
        except ValueError:
            continue
    raise ValueError(f"no board of the registry hosts the {cfg.kernel.name} demo network")


def cmd_learning_demo(args, con):
    """``demo --learning stdp|rstdp``: a learning task (``neurofab.tasks``)."""
    from neurofab.tasks import reward, stdp_pattern
    task = {"stdp": stdp_pattern, "rstdp": reward}[args.learning]
    out = args.out or f"out/learning_{args.learning}.png"
    board = None
    if args.board is not None:
        from neurofab.host import Board
        if not callable(getattr(Board, "read_learning", None)):
            raise ValueError("this host driver has no learning API (Board.read_learning): "
                             "--learning runs on the golden model only")
        board = Board.open(f"sim://{args.board}?learning=1")
    total = 1
    with con.progress(total, f"learning {args.learning}") as bar:
        def progress(done, all_):
            bar.total = all_
            bar.update(done - bar.n)
        try:
            summary = task.run_task(board, seed=args.seed, out=out, progress=progress)
        finally:
            if board is not None:
                board.close()
    if args.learning == "stdp":
        con.say(f"STDP pattern: hit rate {summary['hit_rate']:.3f}, false alarms "
                f"{summary['false_alarms_per_s']:.3f}/s after {summary['train_steps']} "
                f"training steps (goal met: {summary['goal_met']})")
    else:
        con.say(f"R-STDP XOR: accuracy over the last 100 of {summary['trials']} trials "
                f"{summary['accuracy_last_100']:.3f} (goal met: {summary['goal_met']})")
    if summary["golden_equals_board"] is not None:
        con.say(f"golden == board after every trial: {summary['golden_equals_board']}")
    con.say(f"plot: {summary['plot']}")
    ok = summary["golden_equals_board"] is not False
    return summary, 0 if ok else 1


def cmd_digits_demo(args, con):
    """``demo --task digits``: the snnTorch-trained digits network imported from NIR, on
    golden and on the simulated board."""
    from neurofab.host import Board
    from neurofab.tasks import digits
    board_name = args.board or "icebreaker"
    if args.samples is not None:
        from neurofab.checks import check_int
        check_int("samples", args.samples, 1, digits.load_digits_split()[2].shape[0])
    con.say(f"digits:    {digits.NIR_FILE.name} (snnTorch, NIR) imported at dt = "
            f"{digits.DT:g} s; test split on golden and on sim://{board_name}")
    with Board.open(f"sim://{board_name}") as board, \
            con.progress(1, "digits on the board") as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)
        summary = digits.run_task(board, samples=args.samples,
                                  out=args.out or "out/digits_confusion.png",
                                  progress=progress)
    con.say(f"accuracy:  float {summary['float_accuracy']:.4f}, golden "
            f"{summary['golden_accuracy']:.4f}, board {summary['board_accuracy']:.4f} "
            f"(snnTorch {summary['snntorch_accuracy']:.4f}) on {summary['samples']} images")
    con.say(f"board:     same predictions as golden: {summary['predictions_equal']}; every "
            f"spike equal: {summary['golden_equals_board']}")
    con.say(f"plot:      {summary['plot']}")
    ok = summary["predictions_equal"] and summary["golden_equals_board"]
    return summary, 0 if ok else 1


def cmd_reservoir_demo(args, con):
    """``demo --task reservoir``: nsram's reservoir suite on golden (mean ± std over
    seeds) and on the simulated board (seed 0, compared with golden step by step)."""
    from neurofab.host import Board
    from neurofab.tasks import reservoir
    board_name = args.board or "icebreaker"
    seeds = 5 if args.seeds is None else args.seeds
    con.say(f"reservoir: nsram's suite ({reservoir.STEPS} steps, washout "
            f"{reservoir.WASHOUT}, ridge readout) on {seeds} golden reservoirs and on "
            f"sim://{board_name}")
    with Board.open(f"sim://{board_name}") as board, \
            con.progress(reservoir.STEPS, "reservoir on the board") as bar:
        summary = reservoir.run_task(board, seeds=seeds,
                                     progress=lambda done, total: bar.update(done - bar.n))
    con.say(reservoir.format_table(summary))
    b = summary["board"]
    con.say(f"board:     {b['steps']} steps, states == golden at every step: {b['equal']}"
            f"{'' if b['mismatch'] is None else ' (' + b['mismatch'] + ')'}; "
            f"{b['steps_per_s']} steps/s")
    con.say(f"beats every published NS-RAM 2000-neuron figure and the ESN's memory "
            f"capacity: {summary['beats_nsram_2000']}")
    return summary, 0 if b["equal"] else 1


def cmd_board_demo(args, con):
    """``demo --cores K`` / ``demo --encoder KIND``: the demo network on a simulated board
    with a fabric of K cores (``compile_fabric``) or a spike encoder, against golden."""
    from neurofab.boards import get_board
    from neurofab.examples import demo_config, poisson_inputs
    from neurofab.golden import encoded_core as golden_encoded_core
    from neurofab.golden.fabric import run_fabric
    from neurofab.host import Board
    from neurofab.partition import compile_fabric
    t0 = time.perf_counter()
    name = args.board or "ulx3s"
    board = get_board(name)
    cfg = demo_config(seed=args.seed)
    if args.cores not in (None, 1):
        per_core = board.for_fabric(args.cores)["n_neurons"]
        net = compile_fabric(cfg, cores=args.cores, n_neurons=per_core)
        url = f"sim://{name}?cores={args.cores}"
        inputs = poisson_inputs(cfg.n_inputs, args.steps, rate=0.1, seed=args.seed)
        gold = run_fabric(net, inputs)
        con.say(f"network:   {cfg.n_neurons} neurons over {args.cores} cores of {per_core}, "
                f"{cfg.n_synapses} synapses, {args.steps} steps; board {url}")
    else:
        net, url = cfg, f"sim://{name}?encoder={args.encoder}"
        con.say(f"network:   {cfg.n_neurons} neurons behind a {args.encoder} encoder, "
                f"{args.steps} steps; board {url}")
    with Board.open(url) as b:
        b.load(net)
        if args.encoder is not None:
            enc = b.encoder_args
            rng = np.random.default_rng(args.seed)
            inputs = rng.integers(0, 1 << enc["width"], size=(args.steps, enc["channels"]))
            gold = golden_encoded_core.run(b.fit(cfg), inputs, args.encoder, **enc)
        got, t_run, status, link = _run_on_board(b, inputs, con, "board run")
    equal = _same_spikes(gold, got)
    n_spikes = int(sum(len(s) for s in gold))
    con.say(f"board:     golden == board: {equal}; {n_spikes} spikes, run {t_run:.2f} s")
    summary = {"board": name, "cores": args.cores or 1, "encoder": args.encoder,
               "golden_equals_board": bool(equal), "steps": args.steps, "spikes": n_spikes,
               "link": link, "wall_s": round(time.perf_counter() - t0, 3)}
    return summary, 0 if equal else 1


def cmd_demo(args, con):
    """The main job end to end: network → golden → RTL cosim → simulated board → bitstream."""
    if args.learning is not None:
        return cmd_learning_demo(args, con)
    if args.task == "digits":
        return cmd_digits_demo(args, con)
    if args.cores not in (None, 1) or args.encoder is not None:
        return cmd_board_demo(args, con)
    if args.task == "reservoir":
        return cmd_reservoir_demo(args, con)
    if args.board is not None:
        from neurofab.boards import get_board
        get_board(args.board)               # an unknown board fails before any work
    args.out = args.out or "out/demo_raster.png"
    from neurofab import golden
    from neurofab.cosim.core import run_core_cosim
    from neurofab.examples import demo_config, poisson_inputs
    from neurofab.host import Board
    from neurofab.plot import raster

    t0 = time.perf_counter()
    cfg = demo_config(seed=args.seed, kernel=args.kernel)
    kernel = cfg.kernel.name
    inputs = poisson_inputs(cfg.n_inputs, args.steps, rate=0.1, seed=args.seed)
    con.say(f"network:   {cfg.n_neurons}-neuron {kernel} core (200 exc + 50 inh + padding), "
            f"{cfg.n_inputs} input channels, {cfg.n_synapses} synapses, {args.steps} steps")
    tg = time.perf_counter()
    gold = golden.run(cfg, inputs)
    tg = time.perf_counter() - tg
    n_spikes = sum(len(s) for s in gold)
    con.say(f"golden:    {n_spikes} spikes in {tg * 1e3:.1f} ms")

    with con.progress(args.steps, "verilator cosim") as bar:
        cosim = run_core_cosim(cfg, inputs, backend="verilator", seed=args.seed,
                               check_state="every",
                               progress=lambda done, total: bar.update(done - bar.n))
    cs = cosim.summary()
    con.say(f"cosim:     RTL == golden (full state every step, Verilator): {cs['bit_exact']}; "
            f"{cs['cycles_per_step']:.0f} cycles/step, {cs['wall_s']:.1f} s")

    board_name = args.board or _demo_board(cfg)
    url = f"sim://{board_name}" + ("" if kernel == "cuba-lif" else f"?kernel={kernel}")
    con.say(f"board:     {url} (the real top level under Verilator; first start builds it)")
    tb = time.perf_counter()
    with Board.open(url) as board:
        board.load(cfg)
        got, t_run, status, link = _run_on_board(board, inputs, con, "board run")
    tb = time.perf_counter() - tb
    equal = _same_spikes(gold, got)
    link_bytes = link["tx_bytes"] + link["rx_bytes"]
    con.say(f"board:     golden == board: {equal}; run {t_run:.2f} s, "
            f"{link_bytes} link bytes, {link['commands']} commands, "
            f"{link['retransmissions']} retransmissions; board counters: frames_ok "
            f"{status.frames_ok}, crc_errors {status.crc_errors}, naks {status.naks_sent}")

    bitstream = None
    if not args.no_build:
        report, bs = build_board(board_name, con, cfg=cfg)
        bitstream = bs
        con.say(f"bitstream: {bs['bitstream']}  fmax {bs['fmax_mhz']} MHz (target "
                f"{bs['target_mhz']}), {bs['luts']}/{bs['luts_total']} LUTs, {bs['neurons']} "
                f"neurons, {bs['synapses']} synapses{' [cached]' if bs['cached'] else ''}; "
                f"the network " + ("is in the bitstream" if bs["network"]["in_bitstream"]
                                   else "is uploaded at run time"))

    png = raster(args.out, gold, compare=got,
                 title=f"neurofab demo: {cfg.n_neurons}-neuron {kernel} core, golden (dots) vs "
                       f"simulated board (rings): equal = {equal}",
                 groups=[("exc", 0, 200), ("inh", 200, 50)])
    con.say(f"raster:    {png}")
    ok = equal and cs["bit_exact"]
    summary = {"kernel": kernel, "board": board_name,
               "golden_equals_board": bool(equal), "golden_equals_rtl": bool(cs["bit_exact"]),
               "steps": args.steps, "spikes": n_spikes, "link_bytes": link_bytes,
               "link": link, "board_s": round(tb, 3), "cycles_per_step": cs["cycles_per_step"],
               "neurons": cfg.n_neurons, "synapses": cfg.n_synapses, "raster": str(png),
               "bitstream": bitstream, "wall_s": round(time.perf_counter() - t0, 3)}
    return summary, 0 if ok else 1


def cmd_bench(args, con):
    from neurofab import bench
    results = bench.run_all(say=con.say, quick=args.quick)
    return results, 0


def cmd_kernels(args, con):
    from neurofab.kernels import KERNELS
    rows = [k.as_dict() for k in KERNELS.values()]
    if args.cost:
        with con.progress(len(rows), "synth_ice40 per kernel") as bar:
            for r in rows:
                r["ice40_cost"] = KERNELS[r["name"]].cost()
                bar.update(1)
    con.say(f"{'kernel':12} {'state bits':>10} {'profile bits':>12} {'ii':>3} {'latency':>7}"
            + ("  iCE40 LUT4 / FF / SB_MAC16" if args.cost else "") + "  description")
    for r in rows:
        cost = r.get("ice40_cost")
        extra = f"  {cost['lut']:>5} / {cost['ff']:>4} / {cost['dsp']}" if cost else ""
        con.say(f"{r['name']:12} {r['state_bits']:>10} {r['profile_bits']:>12} {r['ii']:>3} "
                f"{r['latency']:>7}{extra}  {r['summary']}")
    return {"kernels": rows}, 0


def cmd_fidelity(args, con):
    from neurofab import fidelity
    with con.progress(len(fidelity.behaviours(args.kernel)), "fidelity") as bar:
        rows, results = fidelity.fidelity_table(
            args.kernel, progress=lambda done, total: bar.update(done - bar.n))
    con.say(fidelity.markdown(rows))
    png = fidelity.gallery(results, args.out)
    con.say(f"gallery: {png}")
    if args.docs:
        fidelity.write_docs(rows, args.docs)
        con.say(f"table written into {args.docs}")
    return {"rows": rows, "gallery": str(png)}, 0


def _parity_builds(args, con):
    """``faults --builds``: every board's top without and with parity."""
    from neurofab import faults
    boards = tuple(faults.BOARD_PARITY)
    with con.progress(2 * len(boards), "parity builds") as bar:
        rows = faults.parity_board_builds(boards, out_dir=args.build_dir,
                                          progress=lambda label: (
                                              bar.set_description(f"build {label}"),
                                              bar.update(1)))
    table = faults.builds_markdown(rows)
    con.say(table)
    if args.docs:
        faults.write_docs(table, args.docs, marker="parity-builds")
        con.say(f"table written into {args.docs}")
    return {"builds": rows}, 0


def cmd_faults(args, con):
    from neurofab import faults
    if args.builds:
        return _parity_builds(args, con)
    from neurofab.spec import PARITY_MEMORIES
    kw = dict(steps=args.steps, seed=args.seed, backend=args.backend)
    parity = PARITY_MEMORIES if args.parity else ()
    kw["geometry"] = faults.Geometry(parity=parity)
    if args.quick:
        kw.update(geometry=faults.Geometry(16, 4, 256, parity=parity), networks=1, single=4,
                  bers=(1e-5, 1e-3), trials=1)
    if args.parity:             # the protected memories, one upset at a time
        kw.update(targets=PARITY_MEMORIES, bers=())
    for name in ("single", "trials", "networks"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    if args.backend == "golden" and not args.parity:
        kw["targets"] = tuple(faults.MEMORIES)
    with con.progress(1, "fault campaign") as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)
        result = faults.campaign(progress=progress, say=con.say, **kw)
    con.say(faults.markdown(result))
    m = result.mirror
    if m["runs"]:
        con.say(f"golden mirror of the memory upsets: {m['exact']} of {m['runs']} runs "
                f"bit-exact ({m['exact_in_limits']} of {m['in_limits']} with every used "
                f"profile inside the kernel's limits)")
    png = faults.figure(result, args.out)
    con.say(f"figure: {png}")
    if args.docs:
        marker = ("faults" + ("-golden" if args.backend == "golden" else "")
                  + ("-parity" if args.parity else ""))
        faults.write_docs(result, args.docs, marker=marker)
        con.say(f"table written into {args.docs}")
    summary = result.summary()
    summary["figure"] = str(png)
    return summary, 0 if m["exact_in_limits"] == m["in_limits"] else 1


def cmd_fuzz(args, con):
    from neurofab import fuzz
    from neurofab.faults import write_docs
    targets = ("golden", "sim") if args.target == "both" else (args.target,)
    with con.progress(None, "fuzz") as bar:
        def progress(name, done):
            bar.set_description(f"fuzz {name}", refresh=False)
            bar.update(1)
        result = fuzz.campaign(targets, quick=args.quick, seed=args.seed,
                               attacks=args.attack, progress=progress, say=con.say)
    table = result.markdown()
    con.say(table)
    for name, items in result.details.items():
        for outcome, detail in items[:3]:
            con.say(f"{name}: {outcome}: {detail.splitlines()[0] if detail else ''}")
    con.say(f"{result.failures} hangs, crashes or silently wrong results")
    if args.docs:
        write_docs(table, args.docs, marker="fuzz")
        con.say(f"table written into {args.docs}")
    return result.summary(), 0 if result.ok else 1


def cmd_prove(args, con):
    from neurofab import prove
    names = args.property or None
    total = len(names) if names else sum(1 for p in prove.PROPERTIES
                                         if not (args.fast and p.slow))
    results = []
    with con.progress(total, "prove") as bar:
        def progress(result):
            tag = f"{result['name']}" + (f" [mutant {result['mutant']}]"
                                         if result["mutant"] else "")
            con.say(f"{tag:40} {result['status']:8} depth {result['depth']:>3}  "
                    f"{result['solver']}  {result['seconds']:7.1f} s"
                    + (f"  {result['detail']}" if result["detail"] else ""))
            if result["mutant"] is None:
                bar.update(1)
            results.append(result)
        prove.run_all(names, fast=args.fast, mutants=args.mutants, solver=args.solver,
                      timeout=args.timeout, workdir=args.out, progress=progress)
    keys = ("name", "status", "depth", "solver", "seconds", "mode", "detail")
    props = [{k: r[k] for k in keys} for r in results if r["mutant"] is None]
    muts = [{k: r[k] for k in ("name", "mutant", "status", "depth", "solver", "seconds")}
            for r in results if r["mutant"] is not None]
    ok = all(p["status"] in ("proven", "bounded") for p in props) and \
        all(m["status"] == "failed" for m in muts)
    summary = {"properties": props}
    if args.mutants:
        summary["mutants"] = muts
    return summary, 0 if ok else 1


class _DefaultCores:
    """``build --cores`` without a count: the board's registry default
    (``Board.default_cores``)."""

    def __repr__(self):
        return "the board's default"


DEFAULT_CORES = _DefaultCores()


def cmd_build(args, con):
    from neurofab.config import CoreConfig
    if args.cores is DEFAULT_CORES:
        from neurofab.boards import get_board
        board = get_board(args.board)
        args.cores = board.default_cores
        if args.cores == 1:
            why = board.fabric if isinstance(board.fabric, str) else "; ".join(
                f"{k} cores: {v}" for k, v in sorted(board.fabric.items()))
            raise ValueError(f"--cores: no fabric fits board {board.name} ({board.device}): "
                             f"{why}")
    cfg = None if args.network is None else CoreConfig.load(args.network)
    report, summary = build_board(args.board, con, cfg=cfg, out_dir=args.out,
                                  kernel=args.kernel, learning=args.learning or None,
                                  cores=args.cores, encoder=args.encoder)
    con.say(report.summary())
    if cfg is not None:
        net = summary["network"]
        con.say(f"network {args.network}: {net['neurons']} neurons, {net['synapses']} "
                f"synapses; " + ("in the bitstream" if net["in_bitstream"] else
                                 "uploaded at run time (SPRAM has no initial contents)"))
    return summary, 0


def cmd_program(args, con):
    from neurofab.boards import get_board
    from neurofab.boards.build import program
    bitstream = args.bitstream
    if bitstream is None:
        report, _ = build_board(args.board, con, out_dir=args.out)
        bitstream = report.bitstream
    program(get_board(args.board), bitstream)
    con.say(f"programmed {args.board} with {bitstream}")
    return {"board": args.board, "bitstream": str(bitstream)}, 0


def cmd_boards(args, con):
    from neurofab.boards import BOARDS
    rows = []
    for b in BOARDS.values():
        rows.append({"name": b.name, "description": b.description, "device": b.device,
                     "f_core_mhz": b.f_core / 1e6, "neurons": b.n_neurons,
                     "inputs": b.n_inputs, "synapses": b.syn_capacity,
                     "synapse_memory": b.syn_memory, "baud": b.uart_baud})
        con.say(f"{b.name:14} {b.device:22} {b.f_core / 1e6:5.0f} MHz  {b.n_neurons:5} neurons"
                f"  {b.n_inputs:5} inputs  {b.syn_capacity:6} synapses ({b.syn_memory})")
    return {"boards": rows}, 0


def cmd_sim_board(args, con):
    from neurofab.host.simboard import serve
    from neurofab.boards import get_board
    get_board(args.board)                      # a clear error for an unknown name
    con.say(f"building the simulated {args.board} (cached after the first time)...")
    return None, serve(args.board, port=args.port, kernel=args.kernel, learning=args.learning,
                       gate=args.gate)


def cmd_reset(args, con):
    """``neurofab reset --url URL``: recover a board an interrupted host left busy."""
    from dataclasses import asdict

    from neurofab.host import Board
    with Board.open(args.url) as board:
        before = board.status()
        board.reset()
        after = board.status()
    con.say(f"board {args.url}: reset; before: {before.steps_pending} steps pending, "
            f"{before.in_level} input and {before.out_level} output events buffered; "
            f"after: {after.steps_pending} pending, {after.in_level} / {after.out_level}")
    summary = {"url": args.url, "before": asdict(before), "after": asdict(after)}
    idle = after.steps_pending == 0 and after.in_level == 0 and after.out_level == 0
    return summary, 0 if idle else 1


def cmd_run(args, con):
    from neurofab import golden
    from neurofab.config import CoreConfig
    from neurofab.examples import poisson_inputs
    from neurofab.host import Board

    cfg = CoreConfig.load(args.network)
    inputs = poisson_inputs(cfg.n_inputs, args.steps, rate=args.rate, seed=args.seed)
    t0 = time.perf_counter()
    with Board.open(args.url) as board:
        info = board.info
        con.say(f"board {args.url}: protocol {info.protocol}, {info.n_neurons} neurons, "
                f"{info.n_inputs} inputs, {info.n_synapses} synapses, "
                f"{info.clk_hz / 1e6:.1f} MHz, build {info.build:016x}")
        t_load = time.perf_counter()
        board.load(cfg)
        t_load = time.perf_counter() - t_load
        got, t_run, status, link = _run_on_board(board, inputs, con, "run")
    gold = golden.run(cfg, inputs)
    equal = _same_spikes(gold, got)
    spikes = int(sum(len(s) for s in got))
    con.say(f"load {t_load:.2f} s, run {t_run:.2f} s: {spikes} spikes in {args.steps} steps; "
            f"golden == board: {equal}")
    con.say(f"link: {link['tx_bytes'] + link['rx_bytes']} wire bytes, "
            f"{link['retransmissions']} retransmissions; board counters: frames_ok "
            f"{status.frames_ok}, crc_errors {status.crc_errors}, naks {status.naks_sent}")
    summary = {"golden_equals_board": bool(equal), "steps": args.steps, "spikes": spikes,
               "link_bytes": link["tx_bytes"] + link["rx_bytes"], "link": link,
               "load_s": round(t_load, 3), "run_s": round(t_run, 3),
               "wall_s": round(time.perf_counter() - t0, 3)}
    return summary, 0 if equal else 1


# --- parser --------------------------------------------------------------------------
def build_parser():
    from neurofab.kernels import KERNELS
    kernel_names = list(KERNELS)
    parser = _Parser(prog="neurofab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name, func, help):
        p = sub.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="last stdout line is a JSON summary")
        p.set_defaults(func=func)
        return p

    p = verb("cosim", cmd_cosim, "co-simulate a block against its golden model")
    p.add_argument("--block", default="core")
    p.add_argument("--backend", choices=("amaranth", "verilator", "gate-ice40", "gate-ecp5"),
                   default="amaranth",
                   help="gate-*: the synthesised netlist under Verilator")
    p.add_argument("--neurons", type=int, default=16, help="core: neurons")
    p.add_argument("--cores", type=int, default=2,
                   help="router/fabric: neuron cores (the router has one more port, the host)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inputs", type=int, default=4, help="core: input events per step (mean)")
    p.add_argument("--kernel", choices=kernel_names, default=None,
                   help="core: neuron kernel (default cuba-lif)")
    p.add_argument("--learning", choices=("stdp", "rstdp", "homeostasis"), default=None,
                   help="core: a learning core exercising this rule, random rewards")
    p.add_argument("--gap", type=float, default=0.3, help="probability of an idle input cycle")
    p.add_argument("--stall", type=float, default=0.3, help="probability of ready low")
    p.add_argument("--vcd", default=None, help="waveform path on mismatch")

    p = verb("demo", cmd_demo, "the main job end to end: golden, cosim, simulated board, "
                                "bitstream, raster plot")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--board", default=None,
                   help="simulated board and bitstream target (default: icebreaker, or the "
                        "first board that hosts the kernel)")
    p.add_argument("--no-build", action="store_true", help="skip the bitstream build")
    p.add_argument("--out", default=None,
                   help="raster plot PNG path (default out/demo_raster.png; with --learning "
                        "the learning curve, default out/learning_TASK.png)")
    p.add_argument("--learning", choices=("stdp", "rstdp"), default=None,
                   help="instead: a learning task (STDP finds a hidden pattern, R-STDP "
                        "learns XOR by reward) on the golden model, or with --board on a "
                        "simulated learning board alongside it")
    p.add_argument("--kernel", choices=kernel_names, default="cuba-lif",
                   help="neuron kernel of the demo network and of the board's core")
    p.add_argument("--task", choices=("digits", "reservoir"), default=None,
                   help="instead: a trained network (digits: an snnTorch SNN imported from "
                        "NIR) on golden and on the simulated board, with float, golden and "
                        "board accuracy and a confusion-matrix PNG; reservoir: nsram's "
                        "reservoir-computing suite, golden and board, next to nsram's figures")
    p.add_argument("--cores", type=int, default=None,
                   help="instead: the demo network over K cores of a simulated fabric board "
                        "(default board ulx3s), against golden")
    p.add_argument("--encoder", choices=("rate", "latency", "delta", "population"),
                   default=None, help="instead: the demo network behind a spike encoder on "
                                      "a simulated board (values in), against golden")
    p.add_argument("--samples", type=int, default=None,
                   help="--task digits: the first SAMPLES test images (default all 360)")
    p.add_argument("--seeds", type=int, default=None,
                   help="--task reservoir: reservoirs of seeds 0..SEEDS-1 (default 5)")

    p = verb("run", cmd_run, "run a saved network on a board (any URL) and compare with golden")
    p.add_argument("--url", required=True,
                   help="serial:///dev/ttyUSB1?baud=3000000, tcp://HOST:PORT or sim://BOARD")
    p.add_argument("--network", required=True, help="a .nfcfg file (CoreConfig.save)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--rate", type=float, default=0.1, help="Poisson input rate per channel")
    p.add_argument("--seed", type=int, default=0)

    p = verb("reset", cmd_reset, "reset a board's network (pending steps, buffered events, "
                                  "neuron state); the loaded network stays")
    p.add_argument("--url", required=True,
                   help="serial:///dev/ttyUSB1?baud=3000000, tcp://HOST:PORT or sim://BOARD")

    p = verb("sim-board", cmd_sim_board, "serve a simulated board over TCP until stopped")
    p.add_argument("--board", default="icebreaker")
    p.add_argument("--kernel", choices=kernel_names, default=None,
                   help="neuron kernel of the board's core (default cuba-lif)")
    p.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    p.add_argument("--learning", action="store_true",
                   help="the board's core learns (docs/learning.md)")
    p.add_argument("--gate", choices=("ice40", "ecp5"), default=None,
                   help="simulate the top's netlist synthesised for this FPGA family "
                        "instead of its RTL (docs/host.md)")

    verb("boards", cmd_boards, "list the supported boards and their capacity")

    p = verb("kernels", cmd_kernels, "list the neuron kernels (state bits, initiation "
                                     "interval, latency, cost)")
    p.add_argument("--cost", action="store_true",
                   help="also synthesise each kernel alone for iCE40 (LUT4, FF, SB_MAC16)")

    p = verb("fidelity", cmd_fidelity, "integer kernels against float64 references: spike "
                                       "counts, spike-time errors, a gallery of traces")
    p.add_argument("--kernel", choices=kernel_names, default=None, help="default: every kernel")
    p.add_argument("--out", default="out/kernel_gallery.png", help="gallery PNG path")
    p.add_argument("--docs", default=None,
                   help="also write the table into this Markdown file (between "
                        "<!-- fidelity --> markers), e.g. docs/fidelity.md")

    p = verb("faults", cmd_faults, "fault injection: single-event upsets in a core's memories "
                                   "and flip-flops, spike-train deviation against bit-error "
                                   "rate (docs/reliability.md)")
    p.add_argument("--backend", choices=("verilator", "golden"), default="verilator",
                   help="inject into the Verilator model (memory upsets checked against "
                        "their golden mirror), or run the golden mirror alone (memories only)")
    p.add_argument("--steps", type=int, default=100, help="steps per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--single", type=int, default=None,
                   help="single-upset runs per target (default 40)")
    p.add_argument("--trials", type=int, default=None,
                   help="runs per target and bit-error rate (default 4)")
    p.add_argument("--networks", type=int, default=None, help="workloads (default 4)")
    p.add_argument("--quick", action="store_true",
                   help="a 16-neuron core, few runs: a smoke test of the campaign")
    p.add_argument("--parity", action="store_true",
                   help="a core with parity on its configuration memories (synapse, rowptr, "
                        "profile): single upsets there, detected or not")
    p.add_argument("--builds", action="store_true",
                   help="instead: build every board's top without and with parity "
                        "(cached) and table resources and fmax (<!-- parity-builds -->)")
    p.add_argument("--build-dir", default="build", help="--builds: build directory")
    p.add_argument("--out", default="out/reliability_faults.png", help="figure PNG path")
    p.add_argument("--docs", default=None,
                   help="also write the tables into this Markdown file (between "
                        "<!-- faults --> markers; faults-golden for --backend golden, "
                        "faults-parity for --parity), e.g. docs/reliability.md")

    p = verb("fuzz", cmd_fuzz, "the link fuzz campaign: attacks on the host link, each "
                               "followed by a check against golden (docs/reliability.md)")
    p.add_argument("--target", choices=("golden", "sim", "both"), default="both",
                   help="the golden link controller in-process (fast), the simulated board "
                        "(sim://icebreaker, the Verilated top over TCP), or both")
    p.add_argument("--quick", action="store_true",
                   help="a few trials per attack and a 200-step noisy line (seconds on golden)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attack", action="append", default=None,
                   help="only this attack (repeatable; default all)")
    p.add_argument("--docs", default=None,
                   help="also write the table into this Markdown file (between <!-- fuzz --> "
                        "markers), e.g. docs/reliability.md")

    p = verb("build", cmd_build, "build a bitstream and its resource/timing report (cached)")
    p.add_argument("--board", required=True)
    p.add_argument("--kernel", choices=kernel_names, default=None,
                   help="neuron kernel of the core (default: the network's, else cuba-lif)")
    p.add_argument("--network", default=None,
                   help="bake this .nfcfg network into the bitstream (default: load at run time)")
    p.add_argument("--learning", action="store_true",
                   help="a learning core (STDP, R-STDP, homeostasis; docs/learning.md)")
    p.add_argument("--cores", type=int, nargs="?", const=DEFAULT_CORES, default=None,
                   help="K >= 2: K cores behind the AER router (geometry: the registry's); "
                        "without K the largest fabric that meets the board's clock goal")
    p.add_argument("--encoder", choices=("rate", "latency", "delta", "population"),
                   default=None, help="a spike encoder in front of the core's inputs")
    p.add_argument("--out", default="build", help="build directory")

    p = verb("program", cmd_program, "program a board (openFPGALoader or iceprog)")
    p.add_argument("--board", required=True)
    p.add_argument("--bitstream", default=None, help="default: build (cached) first")
    p.add_argument("--out", default="build", help="build directory")

    p = verb("prove", cmd_prove, "formal proofs of the RTL (SymbiYosys, docs/proofs.md)")
    p.add_argument("--property", action="append", default=None,
                   help="only this property (repeatable; default all)")
    p.add_argument("--fast", action="store_true", help="leave out the slow properties")
    p.add_argument("--mutants", action="store_true",
                   help="also check each property's deliberately wrong variants (must fail)")
    p.add_argument("--solver", choices=("z3", "boolector"), default=None,
                   help="SMT solver (default: the first installed)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per property")
    p.add_argument("--out", default=None,
                   help="keep the jobs (RTLIL, logs, counterexample traces) in this folder")

    p = verb("bench", cmd_bench, "print performance figures")
    p.add_argument("--quick", action="store_true", help="smaller workloads")
    return parser


#: numeric options and their limits: (lowest, highest, highest included)
_LIMITS = {"steps": (1, None, True), "seeds": (1, 100, True), "single": (0, None, True),
           "trials": (0, None, True), "networks": (1, 1000, True), "neurons": (2, None, True), "cores": (1, None, True),
           "inputs": (0, None, True), "seed": (0, None, True), "port": (0, 65535, True),
           "rate": (0.0, 1.0, True), "gap": (0.0, 1.0, False), "stall": (0.0, 1.0, False)}


class _ArgumentError(Exception):
    """A command line argparse refuses (message and usage), so ``main`` can answer it in
    JSON too."""

    def __init__(self, message, usage):
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _ArgumentError(f"{self.prog}: error: {message}", self.format_usage())


def check_args(args):
    """Refuse a numeric option out of its range (NaN included), naming option, value and
    limit."""
    for name, (lo, hi, closed) in _LIMITS.items():
        value = getattr(args, name, None)
        if value is None or value is DEFAULT_CORES:
            continue
        ok = value >= lo and (hi is None or (value <= hi if closed else value < hi))
        if not ok or value != value:
            limit = (f"at least {lo}" if hi is None else
                     f"in [{lo}, {hi}{']' if closed else ')'}")
            raise ValueError(f"--{name} {value} must be {limit}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except _ArgumentError as exc:
        print(exc.usage, end="", file=sys.stderr)
        print(exc.args[0], file=sys.stderr)
        if "--json" in argv:
            print(json.dumps({"ok": False, "error": exc.args[0]}))
        return 2
    con = Console(args.json)
    try:
        check_args(args)
        summary, status = args.func(args, con)
    except (Exception, KeyboardInterrupt) as exc:
        if os.environ.get("NEUROFAB_DEBUG"):
            raise
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        msg = str(text) if isinstance(exc, (ValueError, KeyError)) else \
            f"{type(exc).__name__}: {text}"
        print(f"neurofab {args.verb}: error: {msg}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": msg}))
        return 2
    if args.json and summary is not None:
        print(json.dumps(summary))
    return status


if __name__ == "__main__":
    sys.exit(main())
