"""Board tops with a fabric (``BoardTop(cores=K)``) or a spike encoder
(``BoardTop(encoder=...)``): registry geometry, IDENTIFY, refusals, and the fabric with
its host tap against golden (Amaranth; Verilator and gate level are slow)."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from neurofab import spec
from neurofab.boards import get_board
from neurofab.boards.top import BoardTop, encoder_params
from neurofab.host import codec

SMALL = dict(n_neurons=16, n_inputs=80, syn_capacity=512)


def _identify(top):
    top._MustUse__silence = True
    return codec.Identify(**codec.unpack_struct(spec.IdentifyReply,
                                                top.link.identify_payload()))


def test_fabric_geometry_from_the_registry():
    board = get_board("ulx3s")
    assert board.fabric_cores == (2, 3, 4) and board.default_cores == 3
    fab = board.for_fabric(4)
    assert fab["n_inputs"] == 4 * fab["n_neurons"] + 256 and fab["route_entries"] == 2
    top = BoardTop("ulx3s", sim=True, cores=4)
    top._MustUse__silence = True
    assert top.n_cores == 4 and top.core.n_cores == 4 and top.core.host_tap
    ident = _identify(top)
    assert (ident.n_cores, ident.route_entries, ident.n_neurons, ident.n_inputs,
            ident.n_synapses) == (4, 2, 256, 1280, 8192)
    assert ident.encoder == 0 and ident.clk_hz == 90_000_000
    three = BoardTop("ulx3s", sim=True, cores=3)            # its clock of its own
    three._MustUse__silence = True
    assert three.clk_hz == 83_333_333 and three.divisor == 28
    assert _identify(three).clk_hz == 83_333_333
    assert get_board("tang-nano-9k").default_cores == 1       # no fabric fits (measured)
    assert get_board("icebreaker").default_cores == 1


def test_fabric_refusals():
    with pytest.raises(ValueError, match=r"^cores = 5: board ulx3s has fabric tops of 2, 3, "
                                         r"4 cores"):
        get_board("ulx3s").for_fabric(5)
    with pytest.raises(ValueError, match=r"^cores = 2: no fabric fits board icebreaker"):
        get_board("icebreaker").for_fabric(2)
    with pytest.raises(ValueError, match=r"cores = 16 is outside"):
        get_board("ulx3s").for_fabric(16)
    with pytest.raises(ValueError, match=r"^cores = 4: a fabric board top has CUBA-LIF cores "
                                         r"without learning, encoder or baked config"):
        BoardTop("ulx3s", sim=True, cores=4, encoder="rate")
    with pytest.raises(ValueError, match=r"^encoder = 'rate': an encoder board top has one"):
        BoardTop("ulx3s", sim=True, encoder="rate", kernel="alif")
    with pytest.raises(ValueError, match=r"^encoder_args \{'seed': 3\} given without"):
        BoardTop("ulx3s", sim=True, encoder_args={"seed": 3})


def test_encoder_top_identify():
    top = BoardTop("ulx3s", sim=True, encoder="latency", n_neurons=16, n_inputs=16,
                   syn_capacity=256)
    ident = _identify(top)
    assert (ident.encoder, ident.enc_width, ident.enc_channels, ident.enc_seed,
            ident.enc_arg) == (spec.ENCODER_IDS["latency"], 8, 16, 0, 16)
    args, link = encoder_params("population", 64)
    assert args == {"width": 8, "seed": 1, "fields": 8, "channels": 8}
    assert link == {"kind": "population", "width": 8, "channels": 8, "seed": 1, "arg": 8}
    assert encoder_params("delta", 64, threshold=5)[1]["arg"] == 5
    with pytest.raises(ValueError, match=r"^encoder rate has no parameter 'window'"):
        encoder_params("rate", 64, window=3)
    other = BoardTop("ulx3s", sim=True, encoder="rate", n_neurons=16, n_inputs=16,
                     syn_capacity=256)
    other._MustUse__silence = True
    assert top.build_hash != other.build_hash


def test_encoder_top_clock_from_the_registry():
    """An encoder top runs at the board's clock for that encoder (``Board.for_encoder``):
    the Tang Nano 9K delta top at 54 MHz, 18 clocks per UART bit, the rate top at 72 MHz;
    the ULX3S delta top at the board's 90 MHz."""
    small = dict(n_neurons=16, n_inputs=16, syn_capacity=256)
    delta = BoardTop("tang-nano-9k", sim=True, encoder="delta", **small)
    rate = BoardTop("tang-nano-9k", sim=True, encoder="rate", **small)
    ulx = BoardTop("ulx3s", sim=True, encoder="delta", **small)
    for top in (delta, rate, ulx):  # (elaborated: the encoders' memories are used)
        Fragment.get(top, None)
    assert (delta.clk_hz, delta.divisor) == (54_000_000, 18)
    assert (rate.clk_hz, rate.divisor) == (72_000_000, 24)
    assert (ulx.clk_hz, ulx.divisor) == (90_000_000, 30)
    assert _identify(delta).clk_hz == 54_000_000


def test_fabric_in_the_hash():
    a = BoardTop("ulx3s", sim=True, cores=4, **SMALL)
    b = BoardTop("ulx3s", sim=True, **SMALL)
    for top in (a, b):
        top._MustUse__silence = True
    assert a.build_hash != b.build_hash


@pytest.mark.parametrize("cores", [2, 4])
def test_fabric_host_tap_equals_golden(cores):
    """The fabric of the board tops: host step t returns update t (no lag), numbered
    core * n_neurons + local, cores in order, and the full state every step (Amaranth)."""
    from neurofab.cosim.fabric import make, run
    rng = np.random.default_rng(cores)
    case = make(rng, 10, cores=cores, host_tap=True)
    res = run(case, backend="amaranth", seed=cores, gap=0.3, stall=0.3)
    assert res.bit_exact, res.report()
    assert res.output_spikes > 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["gate-ice40", "gate-ecp5"])
def test_fabric_host_tap_gate_level(backend):
    """The board tops' fabric (2 cores, host tap) after synth_ice40 / synth_ecp5."""
    from neurofab.cosim.fabric import make, run
    rng = np.random.default_rng(7)
    case = make(rng, 8, cores=2, host_tap=True)
    res = run(case, backend=backend, seed=7, gap=0.3, stall=0.3, vcd_path=False)
    assert res.bit_exact, res.report()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["gate-ice40", "gate-ecp5"])
def test_encoded_core_gate_level(backend):
    """The encoder top's core (a rate encoder in front of a neuron core) after
    synth_ice40 / synth_ecp5 equals golden: spikes, core state and encoder state."""
    from neurofab.cosim.registry import cosim_block
    res = cosim_block("encoded-core", backend=backend, seed=3, steps=8, vcd_path=False,
                      params={"encoder": "rate"})
    assert res.bit_exact, res.report()
