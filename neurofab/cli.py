"""The ``neurofab`` command line: ``demo | cosim | bench`` (more verbs as blocks land).

Every verb takes ``--json``: human-readable text then goes to stderr and the last line
of stdout is one JSON object. Errors are one line on stderr and exit status 2 — never a
bare traceback.
"""

import argparse
import json
import sys
import time

__all__ = ["main"]


class Console:
    """Human text to stdout, or to stderr when stdout is reserved for ``--json``."""

    def __init__(self, json_mode):
        self.json_mode = json_mode
        self.stream = sys.stderr if json_mode else sys.stdout

    def say(self, *args):
        print(*args, file=self.stream, flush=True)

    def progress(self, total, desc):
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, file=sys.stderr, leave=False,
                    disable=None, dynamic_ncols=True)


# --- verbs ---------------------------------------------------------------------------
def cmd_cosim(args, con):
    from neurofab.cosim.harness import cosim_core
    from neurofab.cosim.blocks import BLOCKS, cosim_block
    if args.block != "core" and args.block not in BLOCKS:
        raise ValueError(f"--block {args.block}: unknown block (available: core, "
                         f"{', '.join(BLOCKS)})")
    if args.block != "core":
        with con.progress(args.steps, f"cosim {args.block}/{args.backend}") as bar:
            result = cosim_block(args.block, backend=args.backend, seed=args.seed,
                                 steps=args.steps, gap=args.gap, stall=args.stall,
                                 vcd_path=args.vcd,
                                 progress=lambda done, total: bar.update(done - bar.n))
        con.say(result.report())
        return result.summary(), 0 if result.bit_exact else 1
    with con.progress(args.steps, f"cosim core/{args.backend}") as bar:
        result = cosim_core(neurons=args.neurons, steps=args.steps, seed=args.seed,
                            backend=args.backend, inputs_per_step=args.inputs,
                            gap=args.gap, stall=args.stall, vcd_path=args.vcd,
                            progress=lambda done, total: bar.update(done - bar.n))
    summary = result.summary()
    con.say(result.report())
    return summary, 0 if summary["bit_exact"] else 1


def cmd_demo(args, con):
    from neurofab import golden
    from neurofab.cosim.harness import run_core_cosim
    from neurofab.examples import demo_config, poisson_inputs
    from neurofab.plot import raster

    t0 = time.perf_counter()
    cfg = demo_config(seed=args.seed)
    inputs = poisson_inputs(cfg.n_inputs, args.steps, rate=0.1, seed=args.seed)
    con.say(f"network: {cfg.n_neurons}-neuron core (200 exc + 50 inh + padding), "
            f"{cfg.n_inputs} input channels, {cfg.n_synapses} synapses, {args.steps} steps")
    tg = time.perf_counter()
    gold = golden.run(cfg, inputs)
    tg = time.perf_counter() - tg
    n_spikes = sum(len(s) for s in gold)
    con.say(f"golden:    {n_spikes} spikes in {tg * 1e3:.1f} ms")
    with con.progress(args.steps, "verilator cosim") as bar:
        result = run_core_cosim(cfg, inputs, backend="verilator", seed=args.seed,
                                progress=lambda done, total: bar.update(done - bar.n))
    cs = result.summary()
    con.say(f"verilator: bit_exact={cs['bit_exact']}  {cs['cycles']} cycles "
            f"({cs['cycles_per_step']:.0f}/step), {cs['synaptic_events']} synaptic events, "
            f"{cs['wall_s']:.1f} s")
    png = raster(args.out, gold, compare=result.spikes,
                 title=f"neurofab demo: {cfg.n_neurons}-neuron core, golden == RTL: "
                       f"{cs['bit_exact']}",
                 groups=[("exc", 0, 200), ("inh", 200, 50)])
    con.say(f"raster:    {png}")
    summary = {"golden_equals_rtl": bool(cs["bit_exact"]), "steps": args.steps,
               "spikes": n_spikes, "neurons": cfg.n_neurons, "synapses": cfg.n_synapses,
               "cycles": cs["cycles"], "raster": str(png),
               "wall_s": round(time.perf_counter() - t0, 3)}
    return summary, 0 if cs["bit_exact"] else 1


def cmd_bench(args, con):
    from neurofab import bench
    results = bench.run_all(say=con.say, quick=args.quick)
    return results, 0


# --- parser --------------------------------------------------------------------------
def build_parser():
    parser = argparse.ArgumentParser(prog="neurofab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name, func, help):
        p = sub.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="last stdout line is a JSON summary")
        p.set_defaults(func=func)
        return p

    p = verb("cosim", cmd_cosim, "co-simulate a block against its golden model")
    p.add_argument("--block", default="core")
    p.add_argument("--backend", choices=("amaranth", "verilator"), default="amaranth")
    p.add_argument("--neurons", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inputs", type=int, default=4, help="input events per step (mean)")
    p.add_argument("--gap", type=float, default=0.3, help="probability of an idle input cycle")
    p.add_argument("--stall", type=float, default=0.3, help="probability of ready low")
    p.add_argument("--vcd", default=None, help="waveform path on mismatch")

    p = verb("demo", cmd_demo, "compile an example network, run golden and RTL, plot")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/demo_raster.png", help="raster plot PNG path")

    p = verb("bench", cmd_bench, "print performance figures")
    p.add_argument("--quick", action="store_true", help="smaller workloads")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    con = Console(args.json)
    try:
        summary, status = args.func(args, con)
    except (ValueError, TypeError, OSError, RuntimeError, KeyboardInterrupt) as exc:
        msg = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        print(f"neurofab {args.verb}: error: {msg}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": msg}))
        return 2
    if args.json:
        print(json.dumps(summary))
    return status


if __name__ == "__main__":
    sys.exit(main())
