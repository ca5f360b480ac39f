# amaranth: UnusedElaboratable=no
"""LinkController + a real NeuronCore, driven with frames from the host codec.

Two paths: at the decoded-byte level (``DecodedByte`` tokens in, ``FrameByte`` s out: fast,
and every link-check outcome can be forced), and through ``CobsDecoder`` / ``CobsEncoder``
with wire bytes from ``codec.encode_frame`` (garbage, cut and oversized frames as a UART
would deliver them). Every reply is parsed by ``neurofab.host.codec``.
"""

import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from neurofab import golden, spec
from neurofab.config import random_config
from neurofab.cosim.link import ControllerBench
from neurofab.cosim.streams import get, put
from neurofab.golden.link.cobs import cobs_encode
from neurofab.host import codec
from neurofab.rtl.core import config_words
from neurofab.rtl.link import CobsDecoder, CobsEncoder, LinkController
from neurofab.spec import Counter, Ctrl, FrameStatus, Nak, Opcode, Region, region_depths

CLK = 12_000_000
GEOMETRY = dict(n_neurons=16, n_inputs=8, syn_capacity=128)
BUILD = bytes.fromhex("0123456789abcdef0011")


class Bench(Elaboratable):
    """Controller + core (``ControllerBench``), with ``cobs`` behind a COBS decoder/encoder."""

    def __init__(self, *, cobs=False, cfg=None, **link):
        self.pair = ControllerBench(cfg=cfg, **GEOMETRY, clk_hz=CLK, board_id=7,
                                    build_hash=BUILD, **link)
        self.core, self.ctrl = self.pair.core, self.pair.ctrl
        self.cobs = cobs
        if cobs:
            self.dec = CobsDecoder(max_frame=self.ctrl.max_body)
            self.enc = CobsEncoder()
            self.i_stream, self.o_stream = self.dec.i_stream, self.enc.o_stream
        else:
            self.i_stream, self.o_stream = self.pair.i_frame, self.pair.o_frame

    def elaborate(self, platform):
        m = Module()
        m.submodules.pair = self.pair
        if self.cobs:
            m.submodules.dec = self.dec
            m.submodules.enc = self.enc
            connect(m, self.dec.o_stream, self.pair.i_frame)
            connect(m, self.pair.o_frame, self.enc.i_stream)
        return m


class Host:
    """Testbench side: sends frames, collects replies (``Frame`` or ``FrameError``)."""

    def __init__(self, bench, ctx, replies, *, seed=0):
        self.bench = bench
        self.ctx = ctx
        self.replies = replies
        self.seen = 0
        self.seq = 0x40
        self.rng = np.random.default_rng(seed)
        self.max_payload = bench.ctrl.max_payload

    async def send_tokens(self, body, status=FrameStatus.OK, gap=0.2):
        """Decoded-level frame: the bytes of ``body`` and an end token."""
        port = self.bench.pair.i_frame
        for b in body:
            await put(self.ctx, port, {"data": b, "end": 0, "status": 0}, rng=self.rng, gap=gap)
        await put(self.ctx, port, {"data": 0, "end": 1, "status": status.value}, rng=self.rng,
                  gap=gap)

    async def send_wire(self, wire, gap=0.2):
        for b in wire:
            await put(self.ctx, self.bench.dec.i_stream, b, rng=self.rng, gap=gap)

    async def send(self, opcode, seq, payload=b""):
        body = codec.frame_body(opcode, seq, payload)
        if self.bench.cobs:
            await self.send_wire(cobs_encode(body) + b"\x00")
        else:
            await self.send_tokens(body)

    async def reply(self, patience=20000):
        for _ in range(patience):
            if len(self.replies) > self.seen:
                self.seen += 1
                return self.replies[self.seen - 1]
            await self.ctx.tick()
        pytest.fail(f"no reply within {patience} cycles")

    async def no_reply(self, cycles=300):
        await self.ctx.tick().repeat(cycles)
        assert len(self.replies) == self.seen, f"unexpected reply {self.replies[self.seen:]}"

    def next_seq(self):
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    async def frame(self, cmd, seq=None, patience=20000):
        """Send ``cmd`` (a ``codec.Command``), return its reply ``Frame``."""
        seq = self.next_seq() if seq is None else seq
        await self.send(cmd.opcode.value, seq, cmd.payload)
        rep = await self.reply(patience)
        assert isinstance(rep, codec.Frame), rep
        assert rep.seq == seq, f"reply {rep} to seq {seq}"
        return rep

    async def call(self, cmd, **kwargs):
        """Send ``cmd`` and parse the reply (raises ``NakError``)."""
        return codec.parse_reply(cmd, await self.frame(cmd, **kwargs))

    async def nak(self, cmd, reason, **kwargs):
        with pytest.raises(codec.NakError) as exc:
            await self.call(cmd, **kwargs)
        assert exc.value.reason == reason, f"expected NAK {reason.name}, got {exc.value}"
        assert exc.value.opcode == cmd.opcode.value
        return exc.value

    async def raw(self, opcode, payload=b"", seq=None):
        """A command with an arbitrary payload; returns the reply ``Frame``."""
        seq = self.next_seq() if seq is None else seq
        await self.send(opcode, seq, payload)
        rep = await self.reply()
        assert isinstance(rep, codec.Frame) and rep.seq == seq, rep
        return rep

    async def status(self):
        return await self.call(codec.status())

    async def upload(self, cfg):
        """Load ``cfg`` through WRITE_MEM frames (runs of consecutive words)."""
        runs = []
        for region, index, word in config_words(cfg, n_inputs=GEOMETRY["n_inputs"]):
            nb = spec.region_word_bytes(region)
            if runs and runs[-1][0] == region and runs[-1][1] + len(runs[-1][2]) == index \
                    and 7 + (len(runs[-1][2]) + 1) * nb <= self.max_payload:
                runs[-1][2].append(word)
            else:
                runs.append((region, index, [word]))
        for region, start, words in runs:
            assert await self.call(codec.write_mem(region, start, words,
                                                   max_payload=self.max_payload)) is None

    async def drain_events(self, asm, patience=200):
        """READ_EVENTS until the run is complete; returns the finished steps."""
        steps = []
        for _ in range(patience):
            ev = await self.call(codec.read_events())
            steps += asm.feed(ev.indices, ev.ends)
            if ev.steps_pending == 0 and ev.remaining == 0:
                return steps
        pytest.fail("run did not complete")


def simulate(bench, main, *, stall=0.0, seed=1):
    replies = []

    async def collector(ctx):
        rng = np.random.default_rng(seed)
        if bench.cobs:
            dec = codec.FrameDecoder(max_body=spec.MAX_BODY)
            while True:
                b = await get(ctx, bench.o_stream, rng=rng, stall=stall)
                replies.extend(dec.feed(bytes([b])))
        body = bytearray()
        while True:
            item = await get(ctx, bench.o_stream, rng=rng, stall=stall)
            body.append(item.data)
            if item.last:
                try:
                    replies.append(codec.decode_body(bytes(body)))
                except codec.FrameError as exc:
                    replies.append(exc)
                body.clear()

    async def tb(ctx):
        await main(Host(bench, ctx, replies, seed=seed))

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.add_testbench(collector, background=True)
    sim.run()


def nak_body(reason, opcode, seq):
    return codec.Frame(spec.NAK_OPCODE, seq, bytes([reason.value, opcode]))


def counters(st):
    return {c: getattr(st, c.name.lower()) for c in Counter}


# --- unit checks ---------------------------------------------------------------------------
def test_parameters_validated():
    ok = dict(GEOMETRY, clk_hz=CLK)
    with pytest.raises(ValueError, match=r"^max_payload = 63 is outside the limit \[64, 508\]$"):
        LinkController(**ok, max_payload=63)
    with pytest.raises(ValueError, match=r"^max_payload = 509 is outside the limit"):
        LinkController(**ok, max_payload=509)
    with pytest.raises(ValueError,
                       match=r"^in_depth = 1 must be a power of two in \[2, 16777216\]$"):
        LinkController(**ok, in_depth=1)
    with pytest.raises(ValueError, match=r"^in_depth = 48 must be a power of two"):
        LinkController(**ok, in_depth=48)
    with pytest.raises(TypeError, match=r"^out_depth must be an integer, not 16\.0$"):
        LinkController(**ok, out_depth=16.0)
    with pytest.raises(ValueError, match=r"^n_neurons = 12 must be a power of two"):
        LinkController(**dict(ok, n_neurons=12))
    with pytest.raises(ValueError, match=r"^board_id = 65536 is outside the limit \[0, 65535\]$"):
        LinkController(**ok, board_id=1 << 16)
    with pytest.raises(ValueError, match=r"^build_hash needs at least 8 bytes, got 1$"):
        LinkController(**ok, build_hash=b"\x01")
    with pytest.raises(ValueError, match=r"^build_hash 'xyz' is not a hex string$"):
        LinkController(**ok, build_hash="xyz")
    with pytest.raises(ValueError, match=r"^clk_hz = 0 is outside the limit \[1, 4294967295\]$"):
        LinkController(**dict(ok, clk_hz=0))
    with pytest.raises(ValueError, match=r"^n_inputs = -1 is outside the limit \[0, 65536\]$"):
        LinkController(**dict(ok, n_inputs=-1))
    c = LinkController(**ok, build_hash="0123456789abcdef99")
    assert c.build_hash == 0x0123456789ABCDEF
    assert c.max_body == spec.MAX_BODY


def test_identify_payload_is_the_codec_struct():
    c = LinkController(**GEOMETRY, clk_hz=CLK, max_payload=200, in_depth=128, out_depth=64,
                       board_id=3, build_hash=5)
    ident = codec.unpack_struct(spec.IdentifyReply, c.identify_payload())
    assert ident == dict(protocol=spec.PROTOCOL_VERSION, board=3, build=5, clk_hz=CLK,
                         max_payload=200, n_cores=1, n_profiles=16, n_neurons=16, n_inputs=8,
                         n_synapses=128, in_depth=128, out_depth=64, kernel=0, learning=0,
                         route_entries=0, encoder=0, enc_width=0, enc_channels=0,
                         enc_seed=0, enc_arg=0, queue=0, pace=0)
    idf = codec.Identify(**ident)
    assert {r: idf.region_depth(r) for r in Region} == region_depths(16, 8, 128)
    assert idf.region_depth(Region.PRE) == idf.region_depth(Region.POST) == 0
    assert idf.region_depth(Region.QUEUE) == 0
    q = LinkController(**GEOMETRY, clk_hz=CLK, queue=True)
    q._MustUse__silence = True
    idq = codec.Identify(**codec.unpack_struct(spec.IdentifyReply, q.identify_payload()))
    assert idq.queue == 1 and idq.region_depth(Region.QUEUE) == 17
    assert {r: idq.region_depth(r) for r in Region} == region_depths(16, 8, 128, queue=True)


def test_identify_payload_of_a_learning_core():
    """IDENTIFY says the core learns; its region depths (PRE, POST, 32 CTRL registers)
    and word bytes (9-byte SYNAPSE and CTRL words) follow."""
    c = LinkController(**GEOMETRY, clk_hz=CLK, kernel="alif", learning=True)
    c._MustUse__silence = True
    assert c.depths == region_depths(16, 8, 128, learning=True)
    ident = codec.Identify(**codec.unpack_struct(spec.IdentifyReply, c.identify_payload()))
    assert (ident.learning, ident.kernel) == (1, 1)           # (alif)
    assert {r: ident.region_depth(r) for r in Region} == region_depths(16, 8, 128,
                                                                        learning=True)
    assert ident.region_depth(Region.PRE) == 24 and ident.region_depth(Region.POST) == 16
    assert ident.region_depth(Region.CTRL) == spec.CTRL_HOMEO + spec.PROFILE_COUNT
    assert ident.word_bytes[Region.SYNAPSE] == ident.word_bytes[Region.CTRL] == 9
    with pytest.raises(TypeError, match=r"^learning must be a bool, not 'yes'$"):
        LinkController(**GEOMETRY, clk_hz=CLK, learning="yes")


@pytest.mark.parametrize("learning", [False, True])
def test_converts_to_verilog(learning):
    from amaranth.back import verilog
    c = LinkController(**GEOMETRY, clk_hz=CLK, max_payload=64, in_depth=16, out_depth=8,
                       learning=learning)
    assert "module top" in verilog.convert(c, name="top")


# --- one test per command, the NAKs, retransmission (decoded-byte level) -------------------
def run_commands(main, *, stall=0.3):
    """``main(host)`` against a controller with the largest payload and small buffers."""
    simulate(Bench(max_payload=spec.MAX_PAYLOAD, in_depth=32, out_depth=16), main, stall=stall)


#: A profile whose threshold no neuron reaches.
QUIET = spec.Profile.const({"threshold": spec.STATE_MAX}).as_value().value


async def quiet_network(h):
    """No rows, no accumulated input, thresholds out of reach: steps run without spikes."""
    for region, words in ((Region.ROWPTR, [0] * 24), (Region.STATE, [0] * 16),
                          (Region.PROFILE, [QUIET] * 16), (Region.CTRL, [0, 0])):
        assert await h.call(codec.write_mem(region, 0, words)) is None
    for k in range(0, 128, 64):
        assert await h.call(codec.write_mem(Region.ACC, k, [0] * 64)) is None


async def bad_length(h, opcode, payload):
    rep = await h.raw(opcode.value, payload)
    assert rep == nak_body(Nak.BAD_LENGTH, opcode.value, rep.seq), (opcode, payload)


def test_identify():
    async def main(h):
        ident = await h.call(codec.identify())
        assert ident.n_neurons == 16 and ident.n_inputs == 8 and ident.n_synapses == 128
        assert ident.board == 7 and ident.build == 0x0123456789ABCDEF and ident.clk_hz == CLK
        assert ident.in_depth == 32 and ident.out_depth == 16
        assert ident.max_payload == spec.MAX_PAYLOAD and ident.protocol == spec.PROTOCOL_VERSION
        await bad_length(h, Opcode.IDENTIFY, b"\x00")
        assert await h.call(codec.identify()) == ident

    run_commands(main)


def test_echo():
    rng = np.random.default_rng(5)

    async def main(h):
        # empty, with zeros, the longest
        for data in (b"", b"\x00", bytes(range(256)) + bytes(252), rng.bytes(100)):
            assert await h.call(codec.echo(data)) == data
        # retransmitted: the stored reply
        cmd = codec.echo(b"once")
        rep = await h.frame(cmd)
        assert await h.frame(cmd, seq=rep.seq) == rep

    run_commands(main)


def test_write_mem_and_read_mem():
    rng = np.random.default_rng(5)

    async def main(h):
        # round trips of every region, first and last words
        depths = region_depths(**GEOMETRY)
        for region in Region:
            if not depths[region]:       # PRE, POST, QUEUE: not on this core
                continue
            width = spec.REGION_WORD_WIDTH[region]
            nb = spec.region_word_bytes(region)
            depth = depths[region]
            if region is Region.CTRL:
                words = [5, 0xDEADBEEF]
                start = 0
            else:
                n = min(depth, (spec.MAX_PAYLOAD - 7) // nb, 40)
                start = depth - n
                words = [int(w) for w in rng.integers(0, 1 << min(width, 62), n)]
                if width > 62:
                    words = [w | (1 << (width - 1)) for w in words]
                if region is Region.ROWPTR:
                    # the rows a configuration can hold (the core stores no more bits)
                    cap = GEOMETRY["syn_capacity"]
                    starts = rng.integers(0, cap + 1, n)
                    words = [spec.RowPtr.const({
                        "start": int(s), "count": int(rng.integers(0, cap - s + 1))})
                        .as_value().value for s in starts]
            assert await h.call(codec.write_mem(region, start, words)) is None
            got = await h.call(codec.read_mem(region, start, len(words)))
            if region is Region.CTRL:
                words[0] &= (1 << spec.W_SHIFT_WIDTH) - 1
            assert [int(w) for w in got] == words, region.name
        # count = 0 is a no-op, at the very end of a region too
        assert await h.call(codec.write_mem(Region.STATE, 16, [])) is None
        assert list(await h.call(codec.read_mem(Region.STATE, 16, 0))) == []
        # ... of the deepest regions too (start = depth needs one more index bit): the
        # rule is start + count <= depth for every region, as for STATE above
        for region in (Region.SYNAPSE, Region.ACC):
            depth = depths[region]
            assert list(await h.call(codec.read_mem(region, depth, 0))) == []
            assert await h.call(codec.write_mem(region, depth, [])) is None

        # lengths: a READ_MEM header exactly, a WRITE_MEM header and whole words
        hdr = codec.read_mem(Region.STATE, 0, 1).payload
        for op, payload in ((Opcode.READ_MEM, hdr[:6]), (Opcode.READ_MEM, hdr + b"\x00"),
                            (Opcode.WRITE_MEM, hdr[:6]), (Opcode.WRITE_MEM, hdr),
                            (Opcode.WRITE_MEM, hdr + bytes(6)),
                            (Opcode.WRITE_MEM, hdr + bytes(4))):
            await bad_length(h, op, payload)
        # READ_MEM reply longer than max_payload: 128 SYNAPSE words = 512 bytes
        rep = await h.raw(Opcode.READ_MEM.value,
                          codec.pack_struct(spec.MemHeader, region=4, start=0, count=128))
        assert rep.payload == bytes([Nak.BAD_LENGTH.value, Opcode.READ_MEM.value])
        # 6, 7: PRE, POST of learning cores only; target 1: a second core; 15: the
        # routing table of a multi-core board
        for region, target in ((6, 0), (7, 0), (8, 0), (15, 0), (0, 1), (0, 15), (15, 15)):
            rep = await h.raw(Opcode.READ_MEM.value,
                              codec.pack_struct(spec.MemHeader, region=region | target << 4,
                                                start=0, count=1))
            assert rep.payload == bytes([Nak.BAD_REGION.value, Opcode.READ_MEM.value])
        for region, start, count in ((Region.STATE, 16, 1), (Region.STATE, 0, 17),
                                     (Region.ACC, 127, 2), (Region.ROWPTR, 24, 1),
                                     (Region.SYNAPSE, 100, 29), (Region.CTRL, 3, 0),
                                     (Region.PROFILE, 1 << 24, 0),
                                     (Region.SYNAPSE, (1 << 32) - 1, 1)):
            rep = await h.raw(Opcode.READ_MEM.value, codec.pack_struct(
                spec.MemHeader, region=region.value, start=start, count=count))
            assert rep.payload == bytes([Nak.BAD_RANGE.value, Opcode.READ_MEM.value]), \
                (region, start, count)
        # a refused command has no effect
        before = list(await h.call(codec.read_mem(Region.STATE, 15, 1)))
        await h.nak(codec.write_mem(Region.STATE, 15, [1, 2]), Nak.BAD_RANGE)
        assert list(await h.call(codec.read_mem(Region.STATE, 15, 1))) == before
        # and it is stored too: its NAK is replayed, not re-executed
        cmd = codec.write_mem(Region.STATE, 20, [1])
        rep = await h.frame(cmd)
        assert rep == nak_body(Nak.BAD_RANGE, cmd.opcode.value, rep.seq)
        assert await h.frame(cmd, seq=rep.seq) == rep

    run_commands(main)


def test_inject():
    async def main(h):
        # structure, channels
        for payload in (b"\x01", b"\x01\x80", b"\x02\x80\x01\x00", b"\x00\x80\x01"):
            rep = await h.raw(Opcode.INJECT.value, payload)
            assert rep.payload == bytes([Nak.BAD_LENGTH.value, Opcode.INJECT.value]), payload
        await h.nak(codec.inject([[1, 8]]), Nak.BAD_ARG)
        await h.nak(codec.inject([[0xFFFF]]), Nak.BAD_ARG)
        st = await h.status()
        assert st.in_level == 0
        # retransmitted: not enqueued twice
        cmd = codec.inject([[1, 2, 3]])
        rep = await h.frame(cmd)
        assert rep == codec.Frame(0xA0, rep.seq, b"")
        assert await h.frame(cmd, seq=rep.seq) == rep
        assert (await h.status()).in_level == 4
        assert await h.call(codec.reset()) is None
        # an empty INJECT is fine; partial steps count; space
        assert await h.call(codec.Command(Opcode.INJECT, b"")) is None
        assert await h.call(codec.inject([list(range(8)) * 3], close=False)) is None  # 24
        assert (await h.status()).in_level == 24
        await h.nak(codec.inject([list(range(8))]), Nak.NO_SPACE)       # 9 > 8 free
        assert (await h.status()).in_level == 24
        assert await h.call(codec.inject([list(range(8))], close=False)) is None  # 32
        await h.nak(codec.inject([[]]), Nak.NO_SPACE)
        st = await h.status()
        assert st.in_level == 32 and st.event_overflows == 2

    run_commands(main)


def test_run():
    async def main(h):
        await quiet_network(h)
        for payload in (b"", b"\x01\x02\x03", b"\x01\x02\x03\x04\x05"):
            await bad_length(h, Opcode.RUN, payload)
        # the partial step waits; the steps run without input
        assert await h.call(codec.inject([list(range(8)) * 4], close=False)) is None  # 32
        assert await h.call(codec.run(3)) is None
        asm = codec.StepAssembler()
        steps = await h.drain_events(asm)
        assert [s.tolist() for s in steps] == [[]] * 3
        assert (await h.status()).in_level == 32
        # overflow of steps_pending
        assert await h.call(codec.run(0)) is None
        assert await h.call(codec.run((1 << 32) - 1)) is None
        # (a few steps may have finished meanwhile, at most out_depth of them)
        await h.nak(codec.run(100), Nak.BAD_ARG)
        # BUSY while steps are pending
        await h.nak(codec.write_mem(Region.STATE, 0, [1]), Nak.BUSY)
        await h.nak(codec.read_mem(Region.CTRL, 1, 1), Nak.BUSY)
        assert (await h.status()).steps_pending > 0

    run_commands(main)


def test_reset():
    async def main(h):
        await bad_length(h, Opcode.RESET, b"\x00")
        await quiet_network(h)
        assert await h.call(codec.inject([list(range(8)) * 4], close=False)) is None
        assert await h.call(codec.run((1 << 32) - 1)) is None
        await h.ctx.tick().repeat(300)
        st = await h.status()
        assert st.steps_pending > 0 and st.in_level == 32 and st.out_level > 0
        # RESET stops the run and empties the buffers
        assert await h.call(codec.reset()) is None
        st = await h.status()
        assert (st.steps_pending, st.in_level, st.out_level) == (0, 0, 0)
        assert list(await h.call(codec.read_mem(Region.CTRL, 1, 1))) == [0]

    run_commands(main)


def test_read_events():
    async def main(h):
        await bad_length(h, Opcode.READ_EVENTS, b"\x00")
        await quiet_network(h)
        # retransmitted: the same events, none lost
        assert await h.call(codec.run(2)) is None
        for _ in range(200):
            await h.ctx.tick()
        cmd = codec.read_events()
        first = await h.frame(cmd)
        ev = codec.parse_reply(cmd, first)
        assert ev.steps_pending == 0 and ev.remaining == 0 and len(ev.ends) == 2
        again = await h.frame(cmd, seq=first.seq)
        assert again == first
        # a link NAK with the same seq leaves the stored reply alone
        body = bytearray(codec.frame_body(cmd.opcode.value, first.seq))
        body[-1] ^= 0x10
        await h.send_tokens(bytes(body))
        assert await h.reply() == nak_body(Nak.CRC, cmd.opcode.value, first.seq)
        assert await h.frame(cmd, seq=first.seq) == first
        # same seq, other opcode: executed
        rep = await h.frame(codec.echo(b"x"), seq=first.seq)
        assert rep.opcode == 0x85 and rep.payload == b"x"

    run_commands(main)


def test_status_and_clear_status():
    async def main(h):
        for opcode in (Opcode.STATUS, Opcode.CLEAR_STATUS):
            await bad_length(h, opcode, b"\x00")
        # CLEAR_STATUS retransmitted: not executed twice (its replayed frame is counted)
        cmd = codec.clear_status()
        rep = await h.frame(cmd)
        assert await h.frame(cmd, seq=rep.seq) == rep
        st = await h.status()
        assert st.frames_ok == 2 and st.naks_sent == 0
        # only the last command is remembered: after another one, the same seq and
        # opcode are a new command (and clear again)
        assert await h.frame(cmd, seq=rep.seq) == rep
        st = await h.status()
        assert st.frames_ok == 1
        assert counters(await h.status())[Counter.FRAMES_OK] == 2
        # the UART's pulses are counted
        ctrl = h.bench.ctrl
        for port in (ctrl.i_uart_error, ctrl.i_rx_overrun, ctrl.i_rx_overrun):
            h.ctx.set(port, 1)
            await h.ctx.tick()
            h.ctx.set(port, 0)
        st = await h.status()
        assert (st.uart_errors, st.rx_overruns) == (1, 2)

    run_commands(main)


def test_link_checks():
    async def main(h):
        seq = h.next_seq()
        good = codec.frame_body(Opcode.IDENTIFY.value, seq)
        await h.send_tokens(good[:3])                                    # runt
        assert await h.reply() == nak_body(Nak.FRAMING, Opcode.IDENTIFY.value, seq)
        await h.send_tokens(good[:1])                                    # runt, no seq
        assert await h.reply() == nak_body(Nak.FRAMING, Opcode.IDENTIFY.value, 0)
        await h.send_tokens(b"", status=FrameStatus.COBS)                # no byte at all
        assert await h.reply() == nak_body(Nak.FRAMING, 0, 0)
        await h.send_tokens(good, status=FrameStatus.COBS)               # malformed COBS
        assert await h.reply() == nak_body(Nak.FRAMING, Opcode.IDENTIFY.value, seq)
        await h.send_tokens(good, status=FrameStatus.OVERSIZE)
        assert await h.reply() == nak_body(Nak.OVERSIZE, Opcode.IDENTIFY.value, seq)
        long = codec.frame_body(Opcode.ECHO.value, seq, bytes(spec.MAX_PAYLOAD))
        await h.send_tokens(long + b"\x55", gap=0)                       # 513 bytes
        assert await h.reply() == nak_body(Nak.OVERSIZE, Opcode.ECHO.value, seq)
        for bit in (0, 9, 17, 30):                                       # flipped bits
            bad = bytearray(good)
            bad[bit // 8] ^= 1 << (bit % 8)
            await h.send_tokens(bytes(bad))
            assert await h.reply() == nak_body(Nak.CRC, bad[0], bad[1])
        for op in (0x00, 0x06, 0x81, 0xFF):                             # unknown opcodes
            await h.send(op, seq)
            assert await h.reply() == nak_body(Nak.UNKNOWN_OPCODE, op, seq)
        # none of them changed the stored reply: a retransmission still gets it
        st_cmd = codec.status()
        st_rep = await h.frame(st_cmd)
        await h.send_tokens(b"\x11\x22\x33\x44\x55")
        assert (await h.reply()).payload[0] == Nak.CRC.value
        assert await h.frame(st_cmd, seq=st_rep.seq) == st_rep
        st = await h.status()
        assert counters(st) == {
            Counter.FRAMES_OK: 4 + 3, Counter.CRC_ERRORS: 5,
            Counter.FRAMING_ERRORS: 4, Counter.OVERSIZE_FRAMES: 2,
            Counter.UNKNOWN_OPCODES: 4, Counter.NAKS_SENT: 15, Counter.EVENT_OVERFLOWS: 0,
            Counter.UART_ERRORS: 0, Counter.RX_OVERRUNS: 0, Counter.PACE_OVERRUNS: 0}

    run_commands(main)


# --- a run against the golden model, through COBS -----------------------------------------
def test_run_matches_golden():
    cfg = random_config(23, n_neurons=16, n_inputs=8, max_fanout=4)
    assert cfg.n_synapses <= GEOMETRY["syn_capacity"]
    rng = np.random.default_rng(3)
    inputs = [rng.permutation(np.flatnonzero(rng.random(8) < 0.5)) for _ in range(14)]
    gold = golden.run(cfg, inputs)
    # the second run: a partial step waits for its END, a step without input runs empty
    gold2 = golden.run(cfg, [[], inputs[0], [], *inputs[1:4]])
    assert sum(len(s) for s in gold) > 50 and max(len(s) for s in gold) >= 8
    # a small output buffer: the core has to wait for READ_EVENTS, even within a step
    bench = Bench(cobs=True, max_payload=64, in_depth=64, out_depth=8)

    async def main(h):
        await h.upload(cfg)
        for region, index, word in config_words(cfg, n_inputs=8)[::7]:
            assert list(await h.call(codec.read_mem(region, index, 1))) == [word]
        asm = codec.StepAssembler()
        got = []
        for k in range(0, len(inputs), 4):
            batch = inputs[k:k + 4]
            for cmd in codec.split_inject(batch, max_payload=64):
                assert await h.call(cmd) is None
            assert await h.call(codec.run(len(batch))) is None
            got += await h.drain_events(asm)
        assert [s.tolist() for s in got] == [g.tolist() for g in gold]
        st = await h.status()
        assert (st.steps_pending, st.in_level, st.out_level) == (0, 0, 0)
        assert list(await h.call(codec.read_mem(Region.CTRL, Ctrl.STEP.value, 1))) == \
            [len(inputs)]

        # RESET while a long run is going: state back to the start, configuration kept
        assert await h.call(codec.inject(inputs[:3])) is None
        assert await h.call(codec.run(1000)) is None
        await h.ctx.tick().repeat(300)
        st = await h.status()
        assert st.steps_pending > 0
        assert await h.call(codec.reset()) is None
        st = await h.status()
        assert (st.steps_pending, st.in_level, st.out_level) == (0, 0, 0)
        state = await h.call(codec.read_mem(Region.STATE, 0, 12))
        fields = codec.words_to_fields(spec.NeuronState, state)
        assert not fields["i"].any() and not fields["v"].any() and not fields["ref"].any()
        assert fields["profile"].tolist() == cfg.profile[:12].tolist()
        assert not np.asarray(await h.call(codec.read_mem(Region.ACC, 100, 20)),
                              dtype=np.int64).any()

        asm = codec.StepAssembler()
        assert await h.call(codec.inject([inputs[0]], close=False)) is None
        assert await h.call(codec.run(1)) is None
        got = await h.drain_events(asm)
        assert await h.call(codec.Command(Opcode.INJECT, b"\x00\x80")) is None   # its END
        for cmd in codec.split_inject([[], *inputs[1:4]], max_payload=64):
            assert await h.call(cmd) is None
        assert await h.call(codec.run(5)) is None
        got += await h.drain_events(asm)
        assert [s.tolist() for s in got] == [g.tolist() for g in gold2]

    simulate(bench, main, stall=0.2)


# --- garbage on the wire -----------------------------------------------------------------
def test_garbage_and_damaged_frames_on_the_wire():
    bench = Bench(cobs=True, max_payload=64, in_depth=16, out_depth=16)
    rng = np.random.default_rng(9)
    max_body = 64 + spec.MIN_BODY

    def expected_naks(garbage):
        naks = []
        for seg in garbage.split(b"\x00")[:-1]:
            if not seg:
                continue
            try:
                codec.decode_frame(seg, max_body=max_body)
            except codec.OversizedFrame:
                naks.append(Nak.OVERSIZE)
            except (codec.CobsFrameError, codec.TruncatedFrame):
                naks.append(Nak.FRAMING)
            except codec.CrcError:
                naks.append(Nak.CRC)
            except codec.UnknownOpcode:
                naks.append(Nak.UNKNOWN_OPCODE)
            else:
                pytest.fail("random garbage made a good frame")
        return naks

    async def main(h):
        ident = await h.call(codec.identify())
        assert ident.max_payload == 64
        total = {Nak.OVERSIZE: 0, Nak.FRAMING: 0, Nak.CRC: 0, Nak.UNKNOWN_OPCODE: 0}
        for trial in range(6):
            n = int(rng.integers(1, 40))
            garbage = rng.integers(0, 256, n, dtype=np.uint8)
            garbage[rng.random(n) < 0.1] = 0
            garbage = garbage.tobytes() + b"\x00"
            expect = expected_naks(garbage)
            await h.send_wire(garbage)
            for reason in expect:
                rep = await h.reply()
                assert isinstance(rep, codec.Frame) and rep.is_nak, rep
                assert rep.payload[0] == reason.value
                total[reason] += 1
            await h.no_reply(50)
            assert await h.call(codec.identify()) == ident
        # a flipped CRC bit, a cut frame, an oversized frame, an unknown opcode
        seq = h.next_seq()
        wire = codec.encode_frame(Opcode.ECHO.value, seq, b"hello")
        body = bytearray(codec.frame_body(Opcode.ECHO.value, seq, b"hello"))
        body[-2] ^= 0x01
        await h.send_wire(cobs_encode(bytes(body)) + b"\x00")
        assert await h.reply() == nak_body(Nak.CRC, Opcode.ECHO.value, seq)
        await h.send_wire(wire[:5] + b"\x00")                  # delimiter inside a block
        assert await h.reply() == nak_body(Nak.FRAMING, Opcode.ECHO.value, seq)
        await h.send_wire(cobs_encode(bytes(body[:3])) + b"\x00")   # runt
        assert await h.reply() == nak_body(Nak.FRAMING, Opcode.ECHO.value, seq)
        await h.send_wire(codec.encode_frame(Opcode.ECHO.value, seq, bytes(range(1, 66))),
                          gap=0)
        assert await h.reply() == nak_body(Nak.OVERSIZE, Opcode.ECHO.value, seq)
        await h.send_wire(codec.encode_frame(0x42, seq))
        assert await h.reply() == nak_body(Nak.UNKNOWN_OPCODE, 0x42, seq)
        # extra delimiters are ignored
        await h.send_wire(b"\x00\x00\x00")
        await h.no_reply(50)
        assert await h.call(codec.echo(b"hello")) == b"hello"
        st = await h.status()
        assert st.crc_errors == total[Nak.CRC] + 1
        assert st.framing_errors == total[Nak.FRAMING] + 2
        assert st.oversize_frames == total[Nak.OVERSIZE] + 1
        assert st.unknown_opcodes == total[Nak.UNKNOWN_OPCODE] + 1
        assert st.naks_sent == sum(total.values()) + 5
        assert st.frames_ok == 1 + 6 + 1 + 1 + st.unknown_opcodes
        assert await h.call(codec.identify()) == ident

    simulate(bench, main, stall=0.2)
