"""Board registry: one ``Board`` per supported dev board.

A ``Board`` says everything the build, the host driver and the config compiler need to
know about a target: the amaranth-boards platform, the FPGA, the clock plan (board
oscillator → PLL → core clock), the UART of the host link, the memory and logic budget,
and the default core geometry (neurons, input channels, synapse capacity) that fills the
memory while meeting the core clock. ``docs/boards.md`` tabulates them with measured
figures.
"""

import dataclasses
from dataclasses import dataclass, field

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import (ULX3S_12F_Platform, ULX3S_25F_Platform,
                                   ULX3S_45F_Platform, ULX3S_85F_Platform)

from .clocks import plan_pll
from .platforms import TangNano9kHimbaechelPlatform

__all__ = ["Board", "BOARDS", "get_board", "board_names"]


#: Placer seeds a build tries by default: nextpnr's own, then 1 and 2.
DEFAULT_PLACER_SEEDS = (None, 1, 2)


@dataclass(frozen=True)
class Board:
    """One target board.

    Attributes
    ----------
    name : str
        Registry key (``"icebreaker"``, ``"ulx3s"`` …).
    description : str
        Human-readable name.
    platform : type
        amaranth-boards platform class (instantiated by ``Board.make_platform``).
    family : str
        ``"ice40"``, ``"ecp5"`` or ``"gowin"`` (selects PLL primitive and toolchain).
    device, package : str
        FPGA device and package.
    clock_resource : str
        Platform resource of the board oscillator.
    f_osc : float
        Board oscillator frequency, Hz.
    f_core : float
        Core clock (PLL output) the build is constrained to, Hz. A build whose fmax is
        below it fails.
    f_goal : float
        The core clock the family should reach (iCE40UP5K 30 MHz, ECP5 80 MHz, GW1NR-9
        50 MHz). ``f_core`` is below it where the current core can't meet it yet.
    uart_resource : str
        Platform resource of the host UART (``rx``/``tx`` subsignals).
    uart_baud : int
        Default baud rate of the host link.
    uart_bridge : str
        USB-UART bridge on the board (decides the usable baud rates).
    lut_total, ff_total, dsp_total : int
        Logic budget: 4-input LUTs, flip-flops, hard multipliers (18×18; SB_MAC16 on iCE40).
    bram_count, bram_bits : int
        Block RAMs and bits per block.
    spram_count, spram_bits : int
        Single-port RAMs (iCE40UP5K SPRAM: 16K×16) and bits per block; 0 if none.
    n_neurons, n_inputs, syn_capacity : int
        Default ``NeuronCore`` geometry on this board.
    syn_bank_depth : int or None
        ``NeuronCore(syn_bank_depth=...)``: split the synapse memory into banks of this
        depth (a power of two) whose outputs are registered before the bank is selected,
        so that no long block-RAM cascade limits fmax. ``None``: one memory (iCE40: SPRAM).
    syn_memory : str
        Where the synapse memory is meant to live: ``"spram"`` or ``"bram"``.
    programmers : tuple of tuple of str
        Commands (without the bitstream path) that load a bitstream into the FPGA's
        configuration SRAM, in order of preference.
    bitstream_ext : str
        Extension of the bitstream the platform produces.
    queue_port : bool
        Whether the board top's core has the spike-queue region (snapshots with pending
        spikes, ``Board.snapshot``); off where it does not fit.
    spike_fifo : str
        Where the board top's cores keep their output FIFO (``NeuronCore(spike_fifo=...)``:
        ``"registers"`` or ``"memory"``, one block RAM for about 200 iCE40 logic cells);
        an override picks ``"memory"`` where logic is short and a block RAM is free.
    pace : bool
        Whether the board top's link has paced mode (PACE with a period, ``Board.pace``);
        off where it does not fit.
    placer_seeds : tuple of int or None
        The nextpnr placer seeds ``build`` tries in turn until every clock meets its
        constraint (``None``: nextpnr's default seed). On a nearly full device placement
        decides which of several paths is critical; a board whose design is known to
        close on one seed lists it first, so a build costs one placement, not three.
    kernels : dict
        What differs on this board for a neuron kernel (``neurofab.kernels``), by kernel
        name: a dict of the fields to replace (e.g. ``{"f_core": 67.5e6}`` where the
        kernel's board top does not close timing at the board's default clock, or a
        smaller ``n_neurons``), or a string: why the kernel does not fit the device
        (measured; ``for_kernel`` refuses it with that sentence).
    fabric : dict or str
        Multi-core board tops (``BoardTop(cores=K)``), by core count ``K``: the geometry
        of each core (``n_neurons``, ``n_inputs`` — the axons, every global neuron plus
        the host's input channels —, ``syn_capacity``) and ``route_entries`` (routing
        slots per router port), and optionally ``f_core``, the core clock of that fabric
        top where it is not the board's (``for_cores``); or a string: why that ``K`` does
        not fit or does not meet the clock goal (measured; ``for_fabric`` refuses it with
        that sentence); or a string: why no fabric fits the device (measured). Every ``K``
        with a geometry builds (and simulates, ``sim://B?cores=K``); whether its build
        meets the core clock is in the comments and ``docs/boards.md``.
    encoders : dict
        What differs on this board for an encoder top (``BoardTop(encoder=...)``), by
        encoder kind: a dict of the fields to replace (e.g. ``{"f_core": 60e6}`` where the
        encoder top does not close timing at the board's default clock), or a string: why
        that encoder top does not fit the device (measured; ``for_encoder`` refuses it
        with that sentence).
    fabric_default : int or None
        The largest ``K`` of ``fabric`` whose board top met the core clock (and so the
        clock goal) in a measured build: ``default_cores``, what ``neurofab build
        --cores`` without a count builds; ``None`` where no fabric does.
    learning : bool, dict or str
        Whether the board hosts a learning core (``NeuronCore(learning=True)``, ``docs/
        numerics.md`` "Learning"): ``True`` with the board's default geometry and clock,
        a dict of the fields to replace (as in ``kernels``), or a string: why a learning
        core does not fit the device (``for_learning`` refuses it with that sentence).
    """
    name: str
    description: str
    platform: type
    family: str
    device: str
    package: str
    clock_resource: str
    f_osc: float
    f_core: float
    f_goal: float
    uart_resource: str
    uart_baud: int
    uart_bridge: str
    lut_total: int
    ff_total: int
    dsp_total: int
    bram_count: int
    bram_bits: int
    spram_count: int
    spram_bits: int
    n_neurons: int
    n_inputs: int
    syn_capacity: int
    syn_memory: str
    programmers: tuple
    bitstream_ext: str
    notes: str = ""
    syn_bank_depth: int = None
    placer_seeds: tuple = DEFAULT_PLACER_SEEDS
    queue_port: bool = True
    spike_fifo: str = "registers"
    pace: bool = True
    kernels: dict = field(default_factory=dict, repr=False)
    learning: object = field(default=True, repr=False)
    fabric: object = field(default="no fabric geometry measured on this board yet",
                           repr=False)
    fabric_default: int = field(default=None, repr=False)
    encoders: dict = field(default_factory=dict, repr=False)
    pll_tolerance: float = field(default=0.001, repr=False)

    def __post_init__(self):
        if self.family not in ("ice40", "ecp5", "gowin"):
            raise ValueError(f"board {self.name!r}: unknown FPGA family {self.family!r}")
        if self.syn_memory not in ("spram", "bram"):
            raise ValueError(f"board {self.name!r}: syn_memory must be 'spram' or 'bram', "
                             f"not {self.syn_memory!r}")
        if self.syn_memory == "spram" and not self.spram_count:
            raise ValueError(f"board {self.name!r}: syn_memory='spram' but the device has "
                             f"no SPRAM")
        if self.syn_bank_depth is not None and (
                self.syn_bank_depth < 1 or self.syn_bank_depth & (self.syn_bank_depth - 1)):
            raise ValueError(f"board {self.name!r}: syn_bank_depth = {self.syn_bank_depth} "
                             f"must be a power of two")
        if self.fabric_default is not None and self.fabric_default not in self.fabric_cores:
            raise ValueError(f"board {self.name!r}: fabric_default = {self.fabric_default} "
                             f"has no fabric geometry")
        # validates the clock plans at import time: a bad registry entry fails loudly
        self.pll
        for cores in self.fabric_cores:
            if "f_core" in self.fabric[cores]:
                plan_pll(self.family, self.f_osc, self.fabric[cores]["f_core"],
                         tolerance=self.pll_tolerance)

    def for_kernel(self, kernel):
        """This board as it hosts ``kernel`` (a name or ``Kernel``): the registry entry
        with the kernel's overrides (``kernels``); a ``ValueError`` naming the board, the
        kernel and the reason where the kernel does not fit."""
        from neurofab.kernels import get_kernel
        name = get_kernel(kernel).name
        over = self.kernels.get(name, {})
        if isinstance(over, str):
            raise ValueError(f"kernel {name} does not fit board {self.name} ({self.device}): "
                             f"{over}")
        return self._replaced(over)

    def for_learning(self, learning=True):
        """This board as it hosts a core with (``learning``) or without learning: the
        registry entry with the learning overrides (``learning``); a ``ValueError`` naming
        the board and the reason where a learning core does not fit."""
        from neurofab.checks import check_bool
        if not check_bool("learning", learning) or self.learning is True:
            return self
        if isinstance(self.learning, str):
            raise ValueError(f"a learning core does not fit board {self.name} "
                             f"({self.device}): {self.learning}")
        return self._replaced(self.learning)

    def for_encoder(self, encoder):
        """This board as it hosts an encoder top of ``encoder`` (a kind, or ``None``: no
        encoder): the registry entry with the encoder's overrides (``encoders``); a
        ``ValueError`` naming the board, the encoder and the reason where it does not
        fit."""
        if encoder is None:
            return self
        from neurofab.spec.encoders import check_encoder_kind
        kind = check_encoder_kind(encoder)
        over = self.encoders.get(kind, {})
        if isinstance(over, str):
            raise ValueError(f"encoder {kind} does not fit board {self.name} "
                             f"({self.device}): {over}")
        return self._replaced(over)

    @property
    def fabric_cores(self):
        """The core counts of the fabric tops this board has a geometry for (``fabric``),
        increasing; empty if none."""
        if not isinstance(self.fabric, dict):
            return ()
        return tuple(sorted(k for k, v in self.fabric.items() if isinstance(v, dict)))

    @property
    def default_cores(self):
        """The largest core count of a fabric top that met the board's clock goal
        (``fabric_default``; ``neurofab build --cores`` without a count); 1 if none."""
        return 1 if self.fabric_default is None else self.fabric_default

    def for_fabric(self, cores):
        """``{"n_neurons", "n_inputs", "syn_capacity", "route_entries"}`` of each core of a
        ``cores``-core fabric on this board (``fabric``); a ``ValueError`` naming the board,
        ``cores`` and what it hosts otherwise."""
        from neurofab.checks import check_int
        cores = check_int("cores", cores, 2, 15)
        if isinstance(self.fabric, str):
            raise ValueError(f"cores = {cores}: no fabric fits board {self.name} "
                             f"({self.device}): {self.fabric}")
        hosted = ", ".join(map(str, self.fabric_cores)) or "no"
        if isinstance(self.fabric.get(cores), str):
            raise ValueError(f"cores = {cores}: a fabric of {cores} cores does not fit board "
                             f"{self.name} ({self.device}): {self.fabric[cores]} (it has "
                             f"fabric tops of {hosted} cores)")
        if cores not in self.fabric:
            raise ValueError(f"cores = {cores}: board {self.name} has fabric tops of "
                             f"{hosted} cores")
        return {k: v for k, v in self.fabric[cores].items() if k != "f_core"}

    def for_cores(self, cores):
        """This board as it hosts a board top of ``cores`` cores (``None`` or 1: the
        one-core top, the board itself): the registry entry with that fabric's core clock
        (``f_core`` in ``fabric[cores]``) where it has one of its own; the ``ValueError``
        of ``for_fabric`` where the board has no such fabric."""
        if cores is None or (cores == 1 and not isinstance(cores, bool)):
            return self
        self.for_fabric(cores)
        f_core = self.fabric[cores].get("f_core")
        return self if f_core is None else self._replaced({"f_core": float(f_core)})

    def _replaced(self, over):
        """This board with the fields of ``over`` (a kernel's, learning's, an encoder's or
        a fabric's overrides), but a core clock given explicitly — an ``f_core`` other
        than the registry entry's, as ``build(..., f_core=...)`` hands the top — is kept,
        so that the top's PLL and the build's timing constraint agree."""
        entry = BOARDS.get(self.name)
        if "f_core" in over and entry is not None and self.f_core != entry.f_core:
            over = {k: v for k, v in over.items() if k != "f_core"}
        return dataclasses.replace(self, **over) if over else self

    @property
    def hosts_learning(self):
        """Whether the board hosts a learning core (``for_learning`` does not refuse)."""
        return not isinstance(self.learning, str)

    @property
    def pll(self):
        """The validated ``PllPlan`` from ``f_osc`` to ``f_core``."""
        return plan_pll(self.family, self.f_osc, self.f_core, tolerance=self.pll_tolerance)

    @property
    def geometry(self):
        """Default ``NeuronCore`` keyword arguments for this board."""
        return {"n_neurons": self.n_neurons, "n_inputs": self.n_inputs,
                "syn_capacity": self.syn_capacity, "syn_bank_depth": self.syn_bank_depth}

    @property
    def uart_clocks_per_bit(self):
        """Core clocks per UART bit at the default baud rate (exact for the default plan)."""
        return self.pll.f_out / self.uart_baud

    @property
    def bram_total_bits(self):
        return self.bram_count * self.bram_bits

    @property
    def spram_total_bits(self):
        return self.spram_count * self.spram_bits

    def synaptic_ops_per_s(self, f_hz=None):
        """Synaptic events per second of the integrate phase (one synapse per clock)."""
        return self.f_core if f_hz is None else f_hz

    def make_platform(self):
        """A fresh platform instance for a build."""
        return self.platform()


_ICE40_UP5K = dict(
    family="ice40", device="iCE40UP5K", package="SG48",
    lut_total=5280, ff_total=5280, dsp_total=8,
    bram_count=30, bram_bits=4096,                 # SB_RAM40_4K
    spram_count=4, spram_bits=16384 * 16,          # SB_SPRAM256KA, 16K x 16
)

_ECP5 = {
    # device: LUT4 (= FFs), DP16KD 18 Kbit blocks, MULT18X18D
    "LFE5U-12F": (12096, 32, 28),
    "LFE5U-25F": (24288, 56, 28),
    "LFE5U-45F": (43848, 108, 72),
    "LFE5U-85F": (83640, 208, 156),
}


#: The iCEBreaker's encoder tops: half the default core (128 neurons, 128 inputs) with its
#: output FIFO in one of the block RAMs that frees, which gives back about 200 logic cells
#: (the 256-neuron encoder tops fill all 30 block RAMs and do not place, measured)
_ICEBREAKER_ENCODER = {"n_neurons": 128, "n_inputs": 128, "spike_fifo": "memory"}

#: Block RAMs a learning core's synapse memory alone needs: its 70-bit ``PlasticSynapse``
#: words take 4 x 18 bits of a 1K x 18 (or 2 x 36 of a 512 x 36) block per 1024 (512)
#: words, i.e. one 18-Kbit block per 256 synapses on ECP5 and Gowin.
_LEARN_SYNAPSES_PER_BLOCK = 256


def _learning_fit(brams, syn_capacity):
    """The ``learning`` entry of a board with ``brams`` 18-Kbit blocks: the synapse memory
    in one piece (a learning core does not bank it: ``syn_bank_depth`` None), or why the
    synapse memory at ``syn_capacity`` does not fit with room to spare (computed, a lower
    bound; no build measured)."""
    need = -(-syn_capacity // _LEARN_SYNAPSES_PER_BLOCK)
    if need < brams:
        # Measured on the 85F (1024 / 1024 / 32768): 11569 LUT4, 6933 FF, 156 DP16KD,
        # 8 MULT18X18D, fmax 49.16 MHz at a 90 MHz target (default placer seed; critical path:
        # the learn phase's trace update, multiply, add and clamp in one clock, from the
        # core's FSM state). 45 MHz keeps 15 clocks per bit at 3 Mbaud.
        return {"syn_bank_depth": None, "f_core": 45e6}
    return (f"too small: the synapse memory alone (70-bit words, {syn_capacity} synapses) "
            f"needs {need} 18-Kbit block RAMs, the device has {brams} for the whole core "
            f"and link (computed from the word width; not measured)")


def _ulx3s(name, platform, device, geometry, notes="", **extra):
    luts, brams, dsps = _ECP5[device]
    n_neurons, n_inputs, syn_capacity = geometry
    return Board(
        name=name, description=f"Radiona ULX3S ({device})", platform=platform,
        family="ecp5", device=device, package="CABGA381",
        clock_resource="clk25", f_osc=25e6, f_core=90e6, f_goal=80e6,
        uart_resource="uart", uart_baud=3_000_000, uart_bridge="FTDI FT231X",
        lut_total=luts, ff_total=luts, dsp_total=dsps,
        bram_count=brams, bram_bits=18432, spram_count=0, spram_bits=0,
        n_neurons=n_neurons, n_inputs=n_inputs, syn_capacity=syn_capacity,
        syn_memory="bram", syn_bank_depth=4096,
        programmers=(("openFPGALoader", "-b", "ulx3s"),), bitstream_ext="bit", notes=notes,
        learning=_learning_fit(brams, syn_capacity), **extra,
    )


BOARDS = {b.name: b for b in (
    Board(
        name="icebreaker", description="1BitSquared iCEBreaker (iCE40UP5K)",
        platform=ICEBreakerPlatform, **_ICE40_UP5K,
        # The board top (core + host link) fills all 30 block RAMs and 95 % of the logic
        # cells at 256 neurons / 256 inputs (the core stores row pointers and spikes in
        # only the bits the geometry uses). 30 MHz: PLL 12 -> 30, 10 clocks per UART bit
        # at 3 Mbaud. Placements of this full device scatter the result over several MHz
        # (earlier revisions: 27-34.6 MHz across seeds), which is why ``build`` tries the
        # next seed after a timing or placement failure. Protocol 6's top (5015 cells) ran
        # at 27 MHz: the critical path went from the core's event-stream ready through the
        # link's step feeder into its input buffer's read address. The feeder now reads the
        # buffer into a skid register that does not wait on that ready (5004 cells):
        # 32.14 MHz at 30 with seed 1, 29.86 MHz with seed 2 (the core's ready logic into
        # the feeder's register enables); seed 1 goes first (docs/boards.md).
        placer_seeds=(1, 2, 3),
        # The spike-queue region (snapshots with the pending spikes): 5065 logic cells,
        # 30.57 MHz at 30 with seed 1 (26.50 with seed 2); it fits since the feeder's skid
        # register took the core's event ready off the critical path.
        queue_port=True,
        # paced mode's period register and 32-bit timer do not fit either
        pace=False,
        clock_resource="clk12", f_osc=12e6, f_core=30e6, f_goal=30e6,
        uart_resource="uart", uart_baud=3_000_000, uart_bridge="FTDI FT2232H",
        n_neurons=256, n_inputs=256, syn_capacity=32768, syn_memory="spram",
        programmers=(("iceprog", "-S"), ("openFPGALoader", "-b", "icebreaker")),
        bitstream_ext="bin",
        # CUBA-LIF's top is 3479 LUT4 + 732 carry + 2622 FF (5007 of 5280 logic cells);
        # every other kernel adds more logic than the 273 cells left (synth_ice40 of the
        # whole top, measured; docs/boards.md, "Kernels on the boards").
        kernels={
            "alif": "the board top needs 3653 LUT4 + 794 carry + 2850 FF and 31 block RAMs "
                    "at 256 neurons (30 on the device); at 128 neurons the block RAMs fit "
                    "but 3629 LUT4 + 2812 FF find no placement in 5280 logic cells",
            "izhikevich": "the board top needs 3617 LUT4 + 886 carry + 2810 FF: no "
                          "placement in the 5280 logic cells (CUBA-LIF's top uses 5007)",
            "adex": "the board top needs 3926 LUT4 + 858 carry + 3160 FF and 31 block RAMs "
                    "(5280 logic cells, 30 block RAMs on the device)",
        },
        # Encoder tops at 256 / 256 / 32768 (128 channels; 32 for population) do not fit:
        # rate 5170 / 5280 logic cells and latency 5147 found no placement, population
        # packs into 5288, and all four use the 30 block RAMs (delta needs 31). At 128
        # neurons / 128 inputs with the output FIFO in a freed block RAM (measured, seed 1,
        # 23 block RAMs): rate 4992 cells, 32.43 MHz; latency 4954, 31.18 MHz; population
        # 5120, 32.08 MHz; delta 5069 cells and 24 block RAMs, 30.25 MHz with seed 3
        # (29.75 / 29.82 with seeds 1 / 2: the core's input ready through the encoder
        # into the event buffer's read; seed 3 goes first) (docs/boards.md)
        encoders={"rate": _ICEBREAKER_ENCODER, "latency": _ICEBREAKER_ENCODER,
                  "population": _ICEBREAKER_ENCODER,
                  "delta": dict(_ICEBREAKER_ENCODER, placer_seeds=(3, 1, 2))},
        # (measured: synth_ice40 of the learning board top, docs/boards.md)
        # (measured: synth_ice40 of BoardTop(cores=2) at 64 neurons, 192 axons and 4096
        # synapses per core, docs/boards.md)
        fabric="too small: the smallest useful fabric, 2 cores of 64 neurons (192 axons, "
               "4096 synapses each), needs 6025 LUT4 + 1468 carry + 5051 FF (5280 logic "
               "cells) and 37 block RAMs (30) (synth_ice40, measured); one core fills the "
               "device",
        learning="too small: the 70-bit synapse words do not fit the 64-bit-wide SPRAM "
                 "(4 x 16 bits; 32768 synapses need 2.3 Mbit, the SPRAM holds 1 Mbit), and "
                 "even a learning top of 64 neurons, 64 inputs and 1024 synapses in block "
                 "RAM needs 5628 LUT4 (5280 logic cells), 44 block RAMs (30) and all 8 "
                 "SB_MAC16 (synth_ice40, measured)",
    ),
    # ECP5: a DP16KD read without its output register has a 5.8 ns clock-to-output, so
    # fmax is set by block-RAM outputs and the routing after them. The core banks its
    # synapse memory (4096 synapses a bank: no block-RAM cascade multiplexer) and every
    # block-RAM output of the core and the host link goes into a register directly or
    # through one multiplexer; the 85F board top at 1024 neurons then reaches 98.5 MHz
    # with the default placer seed (88-99 MHz across seeds and small design changes: the
    # long routes after block-RAM reads move with placement). 90 MHz: PLL 25 -> 90, 30
    # clocks per UART bit at 3 Mbaud. The smaller parts have the same speed grade and at
    # most the same geometry (12F: 91 MHz, default seed).
    # Fabric tops (K cores of 256 neurons, axons K x 256 + 256 host channels, 8192
    # synapses in banks of 4096, 2 routing slots per port), measured at 90 MHz, the only
    # exact PLL output from 25 MHz in 80-100 MHz at 3 Mbaud (docs/boards.md, "Fabrics and
    # encoders on the boards"):
    # * K = 2: 90.06 MHz (default placer seed), 8852 LUT4, 5482 FF, 48 DP16KD, 4 MULT18,
    #   with the feeder's gated END count (92.91 MHz, 8131 LUT4 before it; 96.23 MHz,
    #   8013 LUT4 before the link's step feeder had its skid register);
    # * K = 3: 83.79 / 82.06 / 83.24 MHz at 90 with the default seed and seeds 1, 2
    #   (11198 LUT4, 7526 FF, 73 DP16KD): the host-step count into a core's memory gate
    #   across the die, a link block-RAM read into the READ_EVENTS step counter, a
    #   row-pointer read into the walker's w_left; at 128 neurons per core (512 axons,
    #   4096 synapses) 84.72 MHz (default seed; the router's output-FIFO level into its
    #   eos register): fewer neurons per core do not help. So K = 3 runs at 83.33 MHz
    #   (PLL 25 * 10 / 3; 28 clocks per UART bit: 2.976 Mbaud, 0.8 % under 3 Mbaud, within
    #   the UART's 2 % limit): 84.61 MHz at 83.33 with seed 2 (11372 LUT4, 7594 FF, 73
    #   DP16KD; default seed and seed 1 missed), above the 80 MHz goal: the default;
    # * K = 4: 62.19 MHz (default seed; 13703 LUT4, 9708 FF, 96 DP16KD): the router's
    #   host-port arbitration back through the event FIFO's ready into the router's eos
    #   register, across the die: far below the 80 MHz goal.
    # With a register slice before the router's host port (every fabric top, 2026-12-06):
    # K = 4 76.48 MHz at 90 (default seed; seed 1 53.39), the path now inside the router;
    # with the host port's ready registered as well, at 83.33: the default seed's placement
    # estimated 55 MHz and its routing did not converge (stopped); seed 2 76.78 MHz, the
    # host port's table lookup (the route's range compare) into its head. K = 3 at
    # 83.33: 85.14 MHz with seed 2. K = 2 at 90: 88.55 / 86.65 / 85.60 MHz with the default seed and
    # seeds 1, 2 (the host-step count into core 0's memory gate; 90.06 before), so K = 2
    # runs at 83.33 MHz too: 88.80 MHz there with the default seed (8484 LUT4, 5506 FF).
    # K = 4 builds (and simulates) but misses the goal; the default is K = 3.
    _ulx3s("ulx3s", ULX3S_85F_Platform, "LFE5U-85F", (1024, 1024, 32768),
           fabric={k: {"n_neurons": 256, "n_inputs": k * 256 + 256, "syn_capacity": 8192,
                       "route_entries": 2,
                       **({"f_core": 25e6 * 10 / 3} if k in (2, 3) else {})}
                   for k in (2, 3, 4)},
           fabric_default=3,
           # Encoder tops at 1024 / 1024 / 32768, all four at 90 MHz: rate 101.73 and latency
           # 96.03 MHz (default seed), population 98.20 MHz (default seed), delta 90.23 MHz
           # with placer seed 2 (default 88.29, seed 1 88.77 MHz: the core's row-pointer
           # read into w_left, not the encoder). Delta and population decide a clock after
           # taking the value (before that: 73.98 and 71.15 MHz, run at 60 MHz;
           # docs/boards.md), so no encoder needs a clock of its own.
           ),
    _ulx3s("ulx3s-45f", ULX3S_45F_Platform, "LFE5U-45F", (1024, 1024, 32768)),
    _ulx3s("ulx3s-25f", ULX3S_25F_Platform, "LFE5U-25F", (512, 512, 16384)),
    _ulx3s("ulx3s-12f", ULX3S_12F_Platform, "LFE5U-12F", (512, 512, 8192)),
    Board(
        name="tang-nano-9k", description="Sipeed Tang Nano 9K (GW1NR-9)",
        platform=TangNano9kHimbaechelPlatform, family="gowin", device="GW1NR-9C",
        package="QN88P", clock_resource="clk27", f_osc=27e6, f_core=72e6, f_goal=50e6,
        uart_resource="uart", uart_baud=3_000_000, uart_bridge="Bouffalo BL702",
        lut_total=8640, ff_total=6480, dsp_total=20,
        bram_count=26, bram_bits=18432, spram_count=0, spram_bits=0,
        n_neurons=256, n_inputs=256, syn_capacity=8192, syn_memory="bram",
        programmers=(("openFPGALoader", "-b", "tangnano9k"),), bitstream_ext="fs",
        # The board top with the feeder's gated END count: 73.20 / 73.64 MHz at 72 with
        # placer seeds 3 / 4, 68.41 / 60.79 / 66.62 with the default seed and seeds 1, 2
        # (the link's status counters: a LUT-RAM read into the engine's byte enable); the
        # revision before met 72 with the default seed (75.68 MHz). Seeds 3, 4 go first.
        placer_seeds=(3, 4, None),
        # AdEx: 68.4 / 71.8 / 70.4 MHz with the three placer seeds at 72 MHz; 66 MHz keeps
        # 22 clocks per bit at 3 Mbaud (docs/boards.md, "Kernels on the boards")
        kernels={"adex": {"f_core": 66e6}},
        # Encoder tops at 256 / 256 / 8192 (default seed, 72 MHz plan): rate 72.73 and
        # latency 73.39 MHz meet 72 MHz; delta and population miss it: 55.48 and 61.53 MHz
        # deciding in one clock, 68.56 and 69.23 MHz pipelined (the link's COBS encoder
        # critical). At 54 MHz (18 clocks per bit at 3 Mbaud) delta measured 63.48 MHz, at
        # 60 MHz (20 clocks per bit) population 65.53 MHz (before the pipelining): both
        # above the 50 MHz goal.
        encoders={"delta": {"f_core": 54e6}, "population": {"f_core": 60e6}},
        # measured (nextpnr-himbaechel, default placer seed, 72 MHz plan): BoardTop(cores=2)
        # at 64 neurons, 192 axons, 2048 synapses per core; then at 32 / 128 / 1024
        fabric="too small: 2 cores of 64 neurons (192 axons, 2048 synapses each) need 8955 "
               "LUT4 (8640 on the device, LUT RAM included) + 1960 ALU and 6113 of the 6480 "
               "flip-flops, and nextpnr finds no legal placement; 2 cores of 32 neurons "
               "(128 axons, 1024 synapses) still need 8192 LUT4 + 2024 ALU and 5700 "
               "flip-flops and did not place in 6 minutes (measured); one core of 256 "
               "neurons uses 5841 LUT4",
        # measured: the learning top at 256 neurons, 256 inputs, 2048 synapses takes 7107
        # LUT4 + 1516 ALU of 8640 and 5557 of 6480 FF, and nextpnr finds no placement
        learning="too small: a learning top of 256 neurons, 256 inputs and 2048 synapses "
                 "needs 7107 LUT4 + 1516 ALU (8640 LUT4 on the device) and 5557 of the "
                 "6480 flip-flops, and does not place (measured; the default 8192 "
                 "synapses also need 32 of the 26 block RAMs)",
    ),
)}


def board_names():
    """Registry keys, sorted."""
    return sorted(BOARDS)


def get_board(name):
    """The ``Board`` called ``name`` (a ``Board`` is returned unchanged).

    Raises
    ------
    KeyError
        Unknown name; the message lists the known boards.
    """
    if isinstance(name, Board):
        return name
    if not isinstance(name, str):
        raise TypeError(f"board name must be a string, not {name!r}")
    try:
        return BOARDS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown board {name!r}; known boards: "
                       f"{', '.join(board_names())}") from None
