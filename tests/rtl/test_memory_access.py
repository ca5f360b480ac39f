"""MemoryAccess: WRITE_MEM / READ_MEM checks and transfers, RESET's clearing, on a model core."""

import numpy as np
import pytest
from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.sim import Simulator

from neurofab import spec
from neurofab.rtl.link.frame_buffer import FrameBuffer
from neurofab.rtl.link.memory_access import MemoryAccess
from neurofab.spec import Ctrl, Nak, Region

GEOMETRY = dict(n_neurons=16, n_inputs=8, syn_capacity=128)
WORDS_START = 2 + spec.MemHeader.size // 8       # opcode, seq, MemHeader


class Bench(Elaboratable):
    """MemoryAccess with a frame buffer and the controller's word register."""

    def __init__(self, max_payload=spec.MAX_PAYLOAD, learning=False, queue=False):
        self.mem = MemoryAccess(**GEOMETRY, max_payload=max_payload, learning=learning,
                                queue=queue)
        self.buf = FrameBuffer(depth=1024)
        self.word = Signal(spec.MEM_DATA_WIDTH)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        m.submodules.buf = buf = self.buf
        word = self.word
        m.d.comb += [mem.i_word.eq(word), mem.i_data.eq(buf.o_data),
                     mem.i_data_valid.eq(buf.o_data_valid), buf.i_advance.eq(mem.o_take)]
        with m.If(mem.o_word_shift):
            m.d.sync += word.eq(Cat(word[8:], mem.o_word_byte))
        with m.If(mem.o_word_load):
            m.d.sync += word.eq(mem.o_word_value)
        return m


class Core:
    """The core's memory port: every request answered after a random delay."""

    def __init__(self, dut, rng, learning=False, queue=False):
        self.dut = dut
        self.rng = rng
        self.words = {r: [0] * d for r, d in
                      spec.region_depths(**GEOMETRY, learning=learning, queue=queue).items()}
        self.log = []

    async def serve(self, ctx):
        dut = self.dut
        while True:
            ctx.set(dut.o_mem.ready, 1)
            *_, valid, req = await ctx.tick().sample(dut.o_mem.valid, dut.o_mem.payload)
            if not valid:
                continue
            ctx.set(dut.o_mem.ready, 0)
            region = Region(req.region)
            self.log.append((region, req.index, req.write))
            data = self.words[region][req.index]
            if req.write:
                self.words[region][req.index] = req.data
            for _ in range(int(self.rng.integers(0, 3))):
                await ctx.tick()
            ctx.set(dut.i_mem.payload, {"data": data})
            ctx.set(dut.i_mem.valid, 1)
            await ctx.tick().until(dut.i_mem.ready)
            ctx.set(dut.i_mem.valid, 0)


def run(commands, *, running=0, seed=0, core_words=None, learning=False, queue=False):
    """``commands``: ``("write", region, start, words)``, ``("read", region, start, count)``,
    ``("raw", region, start, count, payload_bytes)`` (a WRITE_MEM) or ``("reset",)``.
    Returns ``[(reason, reply bytes)]`` and the model core."""
    bench = Bench(learning=learning, queue=queue)
    mem, buf = bench.mem, bench.buf
    core = Core(mem, np.random.default_rng(seed), learning, queue)
    word_bytes = spec.region_word_byte_counts(learning=learning)
    if core_words:
        for region, words in core_words.items():
            core.words[region][:len(words)] = words
    results = []

    async def tb(ctx):
        ctx.set(mem.i_running, running)
        for cmd in commands:
            kind = cmd[0]
            reply = bytearray()
            if kind == "reset":
                start = mem.i_reset
            else:
                region, first, count = cmd[1], cmd[2], cmd[3]
                if kind == "write":
                    nb = word_bytes[region]
                    words, count = count, len(count)
                    payload = b"".join(int(w).to_bytes(nb, "little") for w in words)
                else:
                    payload = cmd[4] if kind == "raw" else b""
                for addr, byte in enumerate(payload, WORDS_START):
                    ctx.set(buf.i_write_addr, addr)
                    ctx.set(buf.i_write_data, byte)
                    ctx.set(buf.i_write_en, 1)
                    await ctx.tick()
                ctx.set(buf.i_write_en, 0)
                ctx.set(mem.i_header, {"region": region, "start": first, "count": count})
                ctx.set(mem.i_read_mem, kind == "read")
                ctx.set(mem.i_write_mem, kind != "read")
                ctx.set(mem.i_payload_end, WORDS_START + len(payload))
                ctx.set(buf.i_seek, 1)
                ctx.set(buf.i_seek_addr, WORDS_START)
                start = mem.i_start
            if kind == "reset":
                ctx.set(mem.i_read_mem, 0)
                ctx.set(mem.i_write_mem, 0)
            ctx.set(start, 1)
            await ctx.tick()
            ctx.set(start, 0)
            ctx.set(buf.i_seek, 0)
            while True:
                _, _, app, data, done, reason = await ctx.tick().sample(
                    mem.o_append, mem.o_data, mem.o_done, mem.o_reason)
                if app:
                    reply.append(data)
                if done:
                    break
            results.append((reason, bytes(reply)))

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.add_testbench(core.serve, background=True)
    sim.run()
    return results, core


@pytest.mark.parametrize("queue", [False, True])
def test_write_then_read_every_region(queue):
    rng = np.random.default_rng(7)
    cmds = []
    for region in Region:
        depth = spec.region_depths(**GEOMETRY, queue=queue)[region]
        if depth == 0:                            # PRE, POST (learning), QUEUE (queue)
            continue
        width = spec.REGION_WORD_WIDTH[region]
        words = [int(w) for w in rng.integers(0, 1 << min(width, 62), min(depth, 5))]
        cmds += [("write", region, depth - len(words), words),
                 ("read", region, depth - len(words), len(words))]
    results, core = run(cmds, seed=1, queue=queue)
    for (kind, region, start, arg), (reason, reply) in zip(cmds, results):
        assert reason == 0
        nb = spec.region_word_bytes(region)
        if kind == "write":
            assert reply == b"" and core.words[region][start:start + len(arg)] == arg
        else:
            assert reply == b"".join(int(w).to_bytes(nb, "little")
                                     for w in core.words[region][start:start + arg])


def test_checks_in_order():
    state = [("raw", 8, 0, 1, bytes(5)),                         # no such region
             ("raw", Region.STATE, 16, 1, bytes(5)),             # beyond the region
             ("raw", Region.STATE, 1 << 24, 0, b""),             # start beyond any region
             ("raw", Region.STATE, 0, 2, bytes(5)),              # one word short
             ("read", Region.SYNAPSE, 0, 128),                   # 512 bytes > max_payload
             ("raw", Region.STATE, 15, 0, b""),                  # nothing to do: ACK
             ("read", Region.STATE, 16, 0)]                      # at the very end: ACK
    results, core = run(state)
    assert [reason for reason, _ in results] == [
        Nak.BAD_REGION.value, Nak.BAD_RANGE.value, Nak.BAD_RANGE.value, Nak.BAD_LENGTH.value,
        Nak.BAD_LENGTH.value, 0, 0]
    assert core.log == []
    results, core = run([("write", Region.STATE, 0, [1])], running=1)
    assert results == [(Nak.BUSY.value, b"")] and core.log == []


def test_reset_keeps_profiles_and_clears_the_rest():
    profile = spec.NeuronState["profile"]
    state = [(k % 16) << profile.offset | (0x1234 + k) for k in range(16)]
    results, core = run([("reset",)], core_words={
        Region.STATE: state, Region.ACC: list(range(1, 129)), Region.CTRL: [3, 99]})
    assert results == [(0, b"")]
    assert core.words[Region.STATE] == [(k % 16) << profile.offset for k in range(16)]
    assert core.words[Region.ACC] == [0] * 128
    assert core.words[Region.CTRL] == [3, 0] and Ctrl.STEP.value == 1
    assert core.log[:2] == [(Region.STATE, 0, 0), (Region.STATE, 0, 1)]
    assert len(core.log) == 2 * 16 + 128 + 1


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"^max_payload = 63 is outside the limit "
                                         r"\[64, 508\]$"):
        MemoryAccess(**GEOMETRY, max_payload=63)
    with pytest.raises(ValueError, match=r"^syn_capacity = 0 is outside the limit"):
        MemoryAccess(**dict(GEOMETRY, syn_capacity=0))


def test_learning_core_word_widths_and_depths():
    """A learning core: SYNAPSE and CTRL words of 9 bytes, PRE and POST regions; on a core
    without learning PRE and POST have depth 0."""
    widths = spec.region_word_widths(learning=True)
    nbytes = spec.region_word_byte_counts(learning=True)
    depths = spec.region_depths(**GEOMETRY, learning=True)
    assert (nbytes[Region.SYNAPSE], nbytes[Region.CTRL]) == (9, 9)
    assert (nbytes[Region.PRE], nbytes[Region.POST]) == (2, 4)
    unit = MemoryAccess(**GEOMETRY, learning=True)
    unit._MustUse__silence = True                      # (never elaborated)
    assert unit.word_bytes == nbytes
    rng = np.random.default_rng(3)
    cmds = []
    for region in (r for r in Region if depths[r]):       # (no QUEUE here)
        words = [int(w) % (1 << widths[region]) for w in
                 rng.integers(0, 1 << 62, min(depths[region], 4), dtype=np.int64)]
        words[0] = (1 << widths[region]) - 1              # every bit of the widest word
        cmds += [("write", region, depths[region] - len(words), words),
                 ("read", region, depths[region] - len(words), len(words))]
    cmds += [("read", Region.PRE, 24, 1), ("read", Region.POST, 16, 1)]   # beyond: NAK
    results, core = run(cmds, seed=2, learning=True)
    for (kind, region, start, arg), (reason, reply) in zip(cmds, results):
        if start >= depths[region]:
            assert reason == Nak.BAD_RANGE.value
            continue
        assert reason == 0, (kind, region)
        if kind == "write":
            assert core.words[region][start:start + len(arg)] == arg
        else:
            assert reply == b"".join(int(w).to_bytes(nbytes[region], "little")
                                     for w in core.words[region][start:start + arg])
    results, _ = run([("read", Region.PRE, 0, 1), ("read", Region.POST, 0, 1)])
    assert [r for r, _ in results] == [Nak.BAD_REGION.value] * 2     # no such region here


def test_reset_of_a_learning_core_restarts_the_learning_dynamics():
    """RESET also zeroes the modulator and every PRE and POST word and every synapse's
    eligibility; the synapses keep everything else (what they learned)."""
    rng = np.random.default_rng(5)
    depths = spec.region_depths(**GEOMETRY, learning=True)
    syn = [int(w) for w in rng.integers(0, 1 << 62, depths[Region.SYNAPSE], dtype=np.int64)]
    syn = [w | (int(e) << 54) for w, e in zip(syn, rng.integers(0, 1 << 16, len(syn)))]
    ctrl = list(range(100, 100 + depths[Region.CTRL]))
    results, core = run([("reset",)], learning=True, core_words={
        Region.STATE: [0x1234] * 16, Region.ACC: [7] * 128, Region.CTRL: ctrl,
        Region.PRE: [5] * depths[Region.PRE], Region.POST: [9] * depths[Region.POST],
        Region.SYNAPSE: syn})
    assert results == [(0, b"")]
    elig = spec.PlasticSynapse["elig"]
    assert elig.offset == 54
    assert core.words[Region.SYNAPSE] == [w & ((1 << 54) - 1) for w in syn]
    assert core.words[Region.PRE] == [0] * 24 and core.words[Region.POST] == [0] * 16
    expect = list(ctrl)
    expect[Ctrl.STEP.value] = expect[Ctrl.MODULATOR.value] = 0
    assert core.words[Region.CTRL] == expect          # traces, LEARN_END, tables kept
    assert core.words[Region.ACC] == [0] * 128 and core.words[Region.STATE] == [0] * 16
    assert len(core.log) == 2 * 16 + 128 + 1 + 1 + 24 + 16 + 2 * 128
    assert core.log[-2:] == [(Region.SYNAPSE, 127, 0), (Region.SYNAPSE, 127, 1)]


def test_learning_flag_validated():
    with pytest.raises(TypeError, match=r"^learning must be a bool, not 1$"):
        MemoryAccess(**GEOMETRY, learning=1)


def test_a_core_with_the_queue_port_has_no_learning_regions():
    """Region numbers of a core with QUEUE (8) but without learning: PRE and POST (6, 7)
    between them are absent (BAD_REGION), as is 9."""
    results, core = run([("read", Region.PRE, 0, 1), ("read", Region.POST, 0, 1),
                         ("raw", 9, 0, 0, b""), ("read", Region.QUEUE, 16, 1),
                         ("read", Region.QUEUE, 17, 1)], queue=True)
    assert [r for r, _ in results] == [Nak.BAD_REGION.value] * 3 + [0, Nak.BAD_RANGE.value]
    assert core.log == [(Region.QUEUE, 16, 0)]
