"""What the command line and the benchmarks share: a console that keeps stdout for
``--json``, and the cached board build with its one-line summary."""

import sys

__all__ = ["Console", "build_board"]


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


def build_board(board_name, con, *, cfg=None, out_dir="build", kernel=None, learning=None,
                cores=None, encoder=None):
    """Build (cached) the board top for ``board_name``; returns ``(report, summary dict)``.

    With ``cfg`` (a ``CoreConfig``) the network is first fitted to the board (a
    ``ValueError`` names what overflows) and baked into the bitstream's memories — except
    on boards whose synapse memory is SPRAM, which has no initial contents: there the
    bitstream is the board's generic top and the network is uploaded at run time.
    ``kernel`` (default ``cfg.kernel``, else CUBA-LIF) is the neuron kernel of the core;
    ``learning`` (default: whether ``cfg`` learns, else False) builds a learning core.
    ``cores`` (K >= 2) builds the fabric top of K cores (``Board.for_fabric``),
    ``encoder`` the top with that spike encoder (``BoardTop``).
    """
    import functools
    from neurofab.boards import get_board
    from neurofab.boards.build import build
    from neurofab.boards.top import board_top_factory

    from neurofab.kernels import DEFAULT_KERNEL, get_kernel

    board = get_board(board_name)
    if cfg is not None and kernel is not None and get_kernel(kernel) is not cfg.kernel:
        raise ValueError(f"--kernel {get_kernel(kernel).name} does not match the network's "
                         f"kernel {cfg.kernel.name}")
    kernel = get_kernel(cfg.kernel if cfg is not None else (kernel or DEFAULT_KERNEL))
    if cfg is not None and learning is not None and bool(learning) != (cfg.learning is not None):
        raise ValueError(f"--learning {'on' if learning else 'off'} does not match the "
                         f"network, which {'learns' if cfg.learning else 'does not learn'}")
    learning = (cfg.learning is not None) if cfg is not None else bool(learning)
    board = board.for_kernel(kernel).for_learning(learning).for_encoder(encoder).for_cores(
        cores)
    top_kw = {}
    if cores not in (None, 1):
        if cfg is not None:
            raise ValueError("--cores builds a fabric top whose network is uploaded at run "
                             "time: no --network")
        top_kw["cores"] = cores
    if encoder is not None:
        if cfg is not None:
            raise ValueError("--encoder builds a top whose network is uploaded at run time: "
                             "no --network")
        top_kw["encoder"] = encoder
    factory = functools.partial(board_top_factory, kernel=kernel, learning=learning, **top_kw)
    network = None
    if cfg is not None:
        try:
            fitted = cfg.padded(board.n_neurons, board.n_inputs, n_synapses=board.syn_capacity)
        except ValueError as exc:
            raise ValueError(f"network does not fit board {board.name}: {exc}") from None
        baked = board.syn_memory != "spram"
        if baked:
            factory = functools.partial(board_top_factory, cfg=fitted, kernel=kernel,
                                        learning=learning)
        network = {"neurons": cfg.n_neurons, "inputs": cfg.n_inputs,
                   "synapses": cfg.n_synapses, "in_bitstream": baked}
    with con.progress(1, f"build {board.name}") as bar:
        def progress(done, total, label):
            bar.total = total
            bar.set_description(f"build {board.name}: {label}")
            bar.update(done - bar.n)
        report = build(board, factory, out_dir=out_dir, progress=progress)
    lut = report.resources["lut"]
    summary = {"board": board.name, "kernel": kernel.name, "learning": learning,
               "cores": cores or 1, "encoder": encoder,
               "bitstream": str(report.bitstream),
               "fmax_mhz": round(report.fmax / 1e6, 2),
               "target_mhz": round(report.f_target / 1e6, 2),
               "luts": lut.used, "luts_total": lut.available,
               "resources": {k: [r.used, r.available] for k, r in report.resources.items()},
               "neurons": report.n_neurons, "inputs": report.n_inputs,
               "synapses": report.syn_capacity,
               "synaptic_ops_per_s": round(report.synaptic_ops_per_s),
               "cached": report.cached, "build_s": round(report.seconds, 1)}
    if network is not None:
        summary["network"] = network
    return report, summary
