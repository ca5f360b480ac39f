"""Board registry: every entry is consistent with its amaranth-boards platform."""

import pytest
from amaranth.utils import exact_log2

from neurofab import spec
from neurofab.boards import BOARDS, Board, board_names, get_board

#: Core-clock goals per family (MHz) and the UART rates the boards' bridges support.
GOALS = {"ice40": 30, "ecp5": 80, "gowin": 50}


def test_known_boards():
    assert {"icebreaker", "ulx3s", "ulx3s-12f", "ulx3s-25f", "ulx3s-45f",
            "tang-nano-9k"} <= set(BOARDS)
    assert board_names() == sorted(BOARDS)
    assert get_board("ulx3s").device == "LFE5U-85F"
    assert get_board("ULX3S") is BOARDS["ulx3s"]
    assert get_board(BOARDS["icebreaker"]) is BOARDS["icebreaker"]


def test_unknown_board_lists_names():
    with pytest.raises(KeyError) as exc:
        get_board("arty")
    msg = str(exc.value)
    assert "arty" in msg
    for name in BOARDS:
        assert name in msg
    with pytest.raises(TypeError):
        get_board(3)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_board_matches_platform(name):
    board = BOARDS[name]
    assert isinstance(board, Board)
    plat = board.make_platform()
    if board.family == "gowin":
        assert plat.family == board.device
    else:
        assert plat.device == board.device
    # the oscillator resource exists and runs at f_osc
    clk = plat.lookup(board.clock_resource, 0)
    assert clk.clock.frequency == board.f_osc
    # the UART has rx and tx
    uart = plat.lookup(board.uart_resource, 0)
    assert {sub.name for sub in uart.ios} >= {"rx", "tx"}
    # LED 0 (lit by the board top while steps run)
    plat.lookup("led", 0)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_clock_plan(name):
    board = BOARDS[name]
    pll = board.pll
    assert pll.family == board.family
    assert pll.f_out == pytest.approx(board.f_core)     # exact plans only
    # UART: a whole number of core clocks per bit at the default baud rate
    assert board.uart_clocks_per_bit == pytest.approx(round(board.uart_clocks_per_bit))
    assert board.uart_clocks_per_bit >= 8
    assert 0 < board.f_goal
    assert board.f_goal == GOALS[board.family] * 1e6


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_geometry(name):
    board = BOARDS[name]
    exact_log2(board.n_neurons)
    assert 2 <= board.n_neurons <= spec.MAX_NEURONS
    assert 0 <= board.n_inputs <= spec.MAX_INPUTS
    assert 1 <= board.syn_capacity <= spec.MAX_SYNAPSES
    assert board.geometry == {"n_neurons": board.n_neurons, "n_inputs": board.n_inputs,
                              "syn_capacity": board.syn_capacity,
                              "syn_bank_depth": board.syn_bank_depth}
    if board.syn_bank_depth is not None:
        exact_log2(board.syn_bank_depth)
        assert board.syn_memory == "bram"
    # the synapse memory fits where it is meant to live
    syn_bits = board.syn_capacity * spec.Synapse.size
    if board.syn_memory == "spram":
        # SPRAM is 16 bits wide: a 27-bit synapse takes two blocks side by side
        assert board.syn_capacity * 2 * 16 <= board.spram_total_bits
    else:
        assert syn_bits < board.bram_total_bits
    assert board.synaptic_ops_per_s() == board.f_core


def test_resources():
    ice = BOARDS["icebreaker"]
    assert (ice.lut_total, ice.bram_count, ice.spram_count) == (5280, 30, 4)
    assert ice.spram_bits == 16384 * 16
    assert ice.uart_baud == 3_000_000
    for name in ("ulx3s", "ulx3s-45f", "ulx3s-25f", "ulx3s-12f"):
        assert BOARDS[name].bram_bits == 18432
    assert BOARDS["ulx3s"].bram_count == 208
    assert BOARDS["tang-nano-9k"].bram_count == 26


def test_bad_entries_rejected():
    import dataclasses
    ice = BOARDS["icebreaker"]
    with pytest.raises(ValueError, match="family"):
        dataclasses.replace(ice, family="xilinx")
    with pytest.raises(ValueError, match="SPRAM"):
        dataclasses.replace(BOARDS["ulx3s"], syn_memory="spram")
    with pytest.raises(ValueError, match="PLL"):
        dataclasses.replace(ice, f_core=1e9)
    with pytest.raises(ValueError, match="syn_bank_depth = 3000"):
        dataclasses.replace(BOARDS["ulx3s"], syn_bank_depth=3000)


def test_ulx3s_plans():
    """Every ULX3S runs at 90 MHz, above the ECP5 goal, 30 clocks per UART bit, with the
    synapse memory in banks of 4096."""
    for name in ("ulx3s", "ulx3s-45f", "ulx3s-25f", "ulx3s-12f"):
        board = BOARDS[name]
        assert board.f_core == 90e6 >= board.f_goal
        assert board.uart_clocks_per_bit == 30
        assert board.syn_bank_depth == 4096


def test_a_board_as_it_hosts_a_kernel():
    import dataclasses
    from neurofab.boards import get_board
    tang = get_board("tang-nano-9k")
    assert tang.for_kernel("cuba-lif") is tang
    adex = tang.for_kernel("adex")
    assert adex.f_core == 66e6 and adex.pll.f_out == 66e6 and adex.f_core >= adex.f_goal
    assert (adex.n_neurons, adex.syn_capacity) == (tang.n_neurons, tang.syn_capacity)
    small = dataclasses.replace(tang, kernels={"alif": "too few LUTs (measured)"})
    with pytest.raises(ValueError, match=r"kernel alif does not fit board tang-nano-9k "
                                         r"\(GW1NR-9C\): too few LUTs \(measured\)"):
        small.for_kernel("alif")
    with pytest.raises(ValueError, match="kernel = 'lif' is not a neuron kernel"):
        tang.for_kernel("lif")
    ice = get_board("icebreaker")
    assert ice.for_kernel("cuba-lif") is ice
    for kernel in ("alif", "izhikevich", "adex"):
        with pytest.raises(ValueError, match=rf"kernel {kernel} does not fit board icebreaker "
                                             rf"\(iCE40UP5K\): the board top needs"):
            ice.for_kernel(kernel)


def test_a_board_as_it_hosts_a_learning_core():
    """Only the ULX3S 85F holds a learning core at its default geometry: every other
    board refuses with the reason (computed from the 70-bit synapse word, not measured)."""
    import dataclasses
    from neurofab.boards import get_board
    ulx3s = get_board("ulx3s")
    assert ulx3s.hosts_learning and ulx3s.for_learning(False) is ulx3s
    # a learning core keeps its synapse memory in one piece (rtl.core.NeuronCore)
    assert ulx3s.for_learning().syn_bank_depth is None
    assert ulx3s.for_learning().geometry["syn_capacity"] == ulx3s.syn_capacity
    assert [b.name for b in BOARDS.values() if b.hosts_learning] == ["ulx3s"]
    ice = get_board("icebreaker")
    assert ice.for_learning(False) is ice
    with pytest.raises(ValueError, match=r"^a learning core does not fit board icebreaker "
                                         r"\(iCE40UP5K\): too small: the 70-bit synapse"):
        ice.for_learning()
    with pytest.raises(ValueError, match=r"board ulx3s-45f \(LFE5U-45F\): too small: the "
                                         r"synapse memory alone \(70-bit words, 32768 "
                                         r"synapses\) needs 128 18-Kbit block RAMs, the "
                                         r"device has 108"):
        get_board("ulx3s-45f").for_learning(True)
    slower = dataclasses.replace(ulx3s, learning={"f_core": 75e6})
    assert slower.for_learning().f_core == 75e6 and slower.for_learning(False) is slower
    with pytest.raises(TypeError, match=r"^learning must be a bool, not 1$"):
        ulx3s.for_learning(1)


@pytest.mark.parametrize("name", board_names())
def test_fabric_entries(name):
    """Every fabric geometry holds ``K`` cores' neurons plus host channels as axons; the
    default fabric (``fabric_default``) is one of them, met the board's clock, and a core
    count the board has no geometry for is refused with what it has."""
    board = BOARDS[name]
    if isinstance(board.fabric, str):
        assert board.fabric_cores == () and board.fabric_default is None
        assert board.default_cores == 1
        with pytest.raises(ValueError, match=rf"^cores = 2: no fabric fits board {name}"):
            board.for_fabric(2)
        return
    for k, geo in board.fabric.items():
        assert 2 <= k < spec.AER_MAX_PORTS
        if isinstance(geo, str):                        # a measured reason
            with pytest.raises(ValueError, match=rf"^cores = {k}: a fabric of {k} cores "
                                                 rf"does not fit board {name}"):
                board.for_fabric(k)
            continue
        assert board.for_fabric(k) == {key: v for key, v in geo.items() if key != "f_core"}
        assert board.for_cores(k).f_core == geo.get("f_core", board.f_core)
        assert board.for_cores(k).pll.f_out >= board.f_goal
        exact_log2(geo["n_neurons"])
        assert geo["n_inputs"] > k * geo["n_neurons"] and geo["route_entries"] >= 1
    assert board.default_cores == (board.fabric_default or 1)
    assert board.fabric_default is None or board.fabric_default in board.fabric_cores
    missing = max(board.fabric) + 1
    with pytest.raises(ValueError, match=rf"^cores = {missing}: board {name} has fabric "
                                         rf"tops of "):
        board.for_fabric(missing)


def test_fabric_defaults():
    """The measured defaults: the ULX3S-85F's largest fabric that meets its goal (80 MHz)
    is 3 cores, at 83.33 MHz (2 cores too; 4 run at the board's 90 MHz); none on the
    iCEBreaker and the Tang Nano 9K (docs/boards.md)."""
    import dataclasses
    ulx = BOARDS["ulx3s"]
    assert ulx.fabric_cores == (2, 3, 4) and ulx.default_cores == 3
    assert ulx.for_fabric(2) == {"n_neurons": 256, "n_inputs": 768, "syn_capacity": 8192,
                                 "route_entries": 2}
    assert ulx.for_fabric(3) == {"n_neurons": 256, "n_inputs": 1024, "syn_capacity": 8192,
                                 "route_entries": 2}
    assert ulx.for_cores(4) is ulx and ulx.for_cores(1) is ulx and ulx.for_cores(None) is ulx
    for k in (2, 3):
        top = ulx.for_cores(k)
        assert round(top.pll.f_out) == 83_333_333 and top.f_core >= ulx.f_goal
        assert spec.uart_divisor(top.pll.f_out, top.uart_baud) == 28
    # a clock given explicitly (build(..., f_core=...)) is kept: PLL and constraint agree
    explicit = dataclasses.replace(ulx, f_core=80e6, pll_tolerance=0.02)
    assert explicit.for_cores(3).f_core == 80e6
    with pytest.raises(ValueError, match=r"^cores = 5: board ulx3s has fabric tops of"):
        ulx.for_cores(5)
    assert ulx.f_core >= ulx.f_goal
    for name in ("icebreaker", "tang-nano-9k"):
        assert isinstance(BOARDS[name].fabric, str) and "measured" in BOARDS[name].fabric
    with pytest.raises(ValueError, match=r"fabric_default = 5 has no fabric geometry"):
        dataclasses.replace(ulx, fabric_default=5)


@pytest.mark.parametrize("name", board_names())
def test_encoder_entries(name):
    """Every encoder override is a known kind; a clock override keeps a whole number of
    clocks per UART bit; a reason is the refusal of ``for_encoder``."""
    board = BOARDS[name]
    assert board.for_encoder(None) is board
    for kind in spec.ENCODER_KINDS:
        over = board.encoders.get(kind, {})
        if isinstance(over, str):
            with pytest.raises(ValueError, match=rf"^encoder {kind} does not fit board {name}"):
                board.for_encoder(kind)
            continue
        enc = board.for_encoder(kind)
        assert (enc is board) == (not over)
        assert enc.uart_clocks_per_bit == int(enc.uart_clocks_per_bit)
    assert set(board.encoders) <= set(spec.ENCODER_KINDS)
    with pytest.raises(ValueError, match=r"^encoder = 'morse' is not one of"):
        board.for_encoder("morse")


def test_encoder_clocks_measured():
    """ULX3S-85F: all four encoder tops run at the board's 90 MHz (delta and population
    decide a clock after taking the value). Tang Nano 9K: delta at 54 MHz, population at
    60 MHz. iCEBreaker: at 128 neurons with the output FIFO in a block RAM (at 256 neurons
    none placed)."""
    ulx = BOARDS["ulx3s"]
    for kind in ("rate", "latency", "delta", "population"):
        assert ulx.for_encoder(kind) is ulx
    tang = BOARDS["tang-nano-9k"]
    assert tang.for_encoder("rate") is tang and tang.for_encoder("latency") is tang
    delta = tang.for_encoder("delta")
    assert delta.f_core == 54e6 >= delta.f_goal and delta.uart_clocks_per_bit == 18
    pop = tang.for_encoder("population")
    assert pop.f_core == 60e6 >= pop.f_goal and pop.uart_clocks_per_bit == 20
    ice = BOARDS["icebreaker"]
    for kind in ("rate", "latency", "delta", "population"):
        top = ice.for_encoder(kind)
        assert (top.n_neurons, top.n_inputs, top.spike_fifo) == (128, 128, "memory")
        assert top.f_core == ice.f_core and top.syn_capacity == ice.syn_capacity
    assert ice.spike_fifo == "registers"
