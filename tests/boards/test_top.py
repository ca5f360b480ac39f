# amaranth: UnusedElaboratable=no
"""BoardTop: every registry board in simulation mode, the real top inside its platform,
and frames over the UART lines of the simulated top."""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from neurofab import boards, spec
from neurofab.boards import get_board, sim_top
from neurofab.boards.top import BOARD_IDS, BoardTop, board_top_factory, link_defaults
from neurofab.golden.link.uart import uart_receive, uart_waveform
from neurofab.host import codec
from neurofab.host.simboard import top_ports

SMALL = dict(n_neurons=16, n_inputs=8, syn_capacity=64, max_payload=64, in_depth=16,
             out_depth=16)


@pytest.mark.parametrize("name", boards.board_names())
def test_sim_top_converts_for_every_board(name):
    board = get_board(name)
    top, divisor = sim_top(name)
    assert isinstance(top, BoardTop) and top.sim
    assert divisor == top.divisor == spec.uart_divisor(board.pll.f_out, board.uart_baud)
    assert divisor == round(board.uart_clocks_per_bit)
    assert top.geometry == board.geometry
    assert top.link.max_payload == link_defaults(board)["max_payload"]
    ports = top_ports(verilog.convert(top, name="top"), "top")
    assert ports == {"clk": ("input", 1), "rst": ("input", 1), "rx": ("input", 1),
                     "tx": ("output", 1)}


def test_identify_names_board_and_build():
    sim = BoardTop("icebreaker", sim=True)
    real = BoardTop("icebreaker")
    assert sim.board_id == 0 and real.board_id == BOARD_IDS["icebreaker"] == 1
    assert set(BOARD_IDS) == set(boards.board_names())
    assert len(set(BOARD_IDS.values())) == len(BOARD_IDS) and 0 not in BOARD_IDS.values()
    ident = codec.unpack_struct(spec.IdentifyReply, real.link.identify_payload())
    board = boards.get_board("icebreaker")
    assert ident["board"] == 1 and ident["clk_hz"] == board.f_core
    assert ident["n_neurons"] == board.n_neurons and ident["max_payload"] == 252
    # the build hash is reproducible and follows the parameters
    assert BoardTop("icebreaker", sim=True).build_hash == sim.build_hash
    assert BoardTop("icebreaker", sim=True, in_depth=128).build_hash != sim.build_hash
    assert real.build_hash != sim.build_hash
    assert BoardTop("icebreaker", sim=True, build_hash=5).link.build_hash == 5
    # the top reports the core geometry (the build report uses it)
    assert real.geometry == get_board("icebreaker").geometry


def test_synapse_banks_follow_the_board():
    """The registry's ``syn_bank_depth`` reaches the core (ECP5: banks of 4096 synapses)."""
    for name in boards.board_names():
        board = get_board(name)
        core = BoardTop(name, sim=True).core
        assert core.syn_capacity == board.syn_capacity
        depth = board.syn_bank_depth
        if depth is None or depth >= board.syn_capacity:
            assert core.syn_banks == 1
        else:
            assert (core.syn_banks, core.syn_bank_depth) == (board.syn_capacity // depth, depth)
    top = BoardTop("ulx3s", sim=True, syn_bank_depth=8192)
    assert top.core.syn_banks == 4 and top.geometry["syn_bank_depth"] == 8192
    assert top.build_hash != BoardTop("ulx3s", sim=True).build_hash
    assert top.link.n_neurons == top.core.n_neurons


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-12f", "tang-nano-9k"])
def test_real_top_elaborates_in_its_platform(name):
    board = get_board(name)
    plan = board.make_platform().prepare(board_top_factory(board), name="top")
    il = plan.files["top.il"]
    assert "clockgen" in il and "uart_rx" in il and "link" in il


def test_real_top_needs_a_platform():
    with pytest.raises(ValueError, match="platform"):
        BoardTop("icebreaker").elaborate(None)


def test_frames_over_the_uart_lines():
    """IDENTIFY, ECHO and STATUS over rx/tx, bit-true UART on both sides."""
    top = BoardTop("icebreaker", sim=True, **SMALL)
    d = top.divisor
    seqs = [0x10, 0x11, 0x12]
    cmds = [codec.identify(), codec.echo(bytes(range(40))), codec.status()]
    received = []

    async def tb(ctx):
        for seq, cmd in zip(seqs, cmds):
            wire = codec.encode_frame(cmd.opcode.value, seq, cmd.payload)
            if seq == 0x12:
                # a byte with a low stop bit before it: a UART error, then the frame
                bad = uart_waveform(b"\x55", d)
                bad[-d:] = 0
                wave = np.concatenate([bad, np.ones(3 * d, np.uint8), uart_waveform(wire, d)])
            else:
                wave = uart_waveform(wire, d)
            line = []
            for level in wave:
                ctx.set(top.rx, int(level))
                await ctx.tick()
                line.append(ctx.get(top.tx))
            ctx.set(top.rx, 1)
            for _ in range(80 * 10 * d):          # the reply
                await ctx.tick()
                line.append(ctx.get(top.tx))
            data = bytes(e.value for e in uart_receive(line, d) if e.kind == "byte")
            received.append(data)

    sim = Simulator(top)
    sim.add_clock(1 / top.clk_hz)
    sim.add_testbench(tb)
    sim.run()
    dec = codec.FrameDecoder()
    for seq, cmd, data in zip(seqs, cmds, received):
        frames = dec.feed(data)
        assert len(frames) == 1 and frames[0].seq == seq, frames
        result = codec.parse_reply(cmd, frames[0])
        if cmd.opcode == spec.Opcode.IDENTIFY:
            assert result.board == 0 and result.n_neurons == 16 and result.max_payload == 64
        elif cmd.opcode == spec.Opcode.ECHO:
            assert result == bytes(range(40))
        else:
            assert result.frames_ok == 3 and result.uart_errors == 1
            assert result.rx_overruns == 0 and result.naks_sent == 0


def test_learning_top():
    """``BoardTop(learning=True)``: IDENTIFY says so, the build hash differs, a board that
    cannot host a learning core refuses, a config decides when given."""
    plain = BoardTop("ulx3s", sim=True, **SMALL)
    top = BoardTop("ulx3s", sim=True, learning=True, **SMALL)
    assert top.learning and not plain.learning and top.link.learning
    assert top.build_hash != plain.build_hash
    assert BoardTop("ulx3s", sim=True, learning=True, **SMALL).build_hash == top.build_hash
    ident = codec.unpack_struct(spec.IdentifyReply, top.link.identify_payload())
    assert ident["learning"] == 1
    assert codec.unpack_struct(spec.IdentifyReply,
                               plain.link.identify_payload())["learning"] == 0
    with pytest.raises(ValueError, match=r"^a learning core does not fit board icebreaker "
                                         r"\(iCE40UP5K\): too small"):
        BoardTop("icebreaker", sim=True, learning=True)
    with pytest.raises(TypeError, match=r"^learning must be a bool, not 'yes'$"):
        BoardTop("ulx3s", sim=True, learning="yes")
    top, divisor = sim_top("ulx3s", learning=True)
    top._MustUse__silence = True                        # (made in sim_top, never elaborated)
    assert top.learning and divisor == top.divisor and top.geometry["syn_bank_depth"] is None


def test_parity_top_reports_the_cores_parity_errors_in_status():
    """BoardTop(parity=...): the core's parity-error counter reaches STATUS."""
    top = BoardTop("ulx3s", sim=True, parity=("profile", "rowptr"), **SMALL)
    assert top.core.parity == ("rowptr", "profile")
    plain = BoardTop("ulx3s", sim=True, **SMALL)
    assert top.build_hash != plain.build_hash       # the design hash knows the parity
    d = top.divisor
    received = []

    async def tb(ctx):
        ctx.set(top.core.parity_errors, 1234)
        wire = codec.encode_frame(spec.Opcode.STATUS.value, 0x21)
        line = []
        for level in uart_waveform(wire, d):
            ctx.set(top.rx, int(level))
            await ctx.tick()
        ctx.set(top.rx, 1)
        for _ in range(70 * 10 * d):
            await ctx.tick()
            line.append(ctx.get(top.tx))
        received.append(bytes(e.value for e in uart_receive(line, d) if e.kind == "byte"))

    sim = Simulator(top)
    sim.add_clock(1 / top.clk_hz)
    sim.add_testbench(tb)
    sim.run()
    frames = codec.FrameDecoder().feed(received[0])
    assert codec.parse_reply(codec.status(), frames[0]).parity_errors == 1234
    with pytest.raises(ValueError, match="parity = 'synapse': parity protects the one core "
                                         "of a top without learning, fabric or encoder"):
        BoardTop("ulx3s", sim=True, parity="synapse", cores=2)
