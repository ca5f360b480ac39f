"""Golden twin of the host-link command controller (``rtl/link/controller.py``).

The controller's replies are fixed by ``docs/protocol.md``: the frames are
``host.codec``'s (bodies, CRC, NAKs, payload structs, event records), the network is
``golden.core.NeuronCore`` on the uploaded config, and the rest — link checks in order,
counters, the stored reply of the last executed command, the event buffers — is modelled
here, frame by frame.
"""

import numpy as np

from neurofab import spec
from neurofab.host import codec
from neurofab.spec import Ctrl, FrameStatus, Nak, Opcode, Region

__all__ = ["LinkController"]


class LinkController:
    """What a ``rtl.link.controller.LinkController`` serving a ``NeuronCore`` of
    ``geometry`` replies, frame by frame.

    The frames are ``host.codec``'s (bodies, CRC, NAKs, payload structs, event records);
    the network is ``golden.core.NeuronCore`` on the uploaded config; the rest is the
    protocol (``docs/protocol.md``): link checks in order, counters, the stored reply of
    the last executed command, event buffers. Steps are only run while nothing else
    happens (a script waits for the run to end), so every reply is determined.

    ``send(body, status)`` returns the expected reply body of one received frame.

    Parameters
    ----------
    cfg : CoreConfig
        The network uploaded to the core.
    geometry : dict
        ``n_neurons``, ``n_inputs``, ``syn_capacity`` of the core; ``max_payload``,
        ``in_depth``, ``out_depth`` of the controller; ``queue`` (optional, default
        False): the core has region ``QUEUE``.
    **link
        ``clk_hz``, ``board_id``, ``build_hash``: what IDENTIFY reports.
    """

    def __init__(self, cfg, geometry, **link):
        from neurofab.golden.core import NeuronCore
        self.g = dict(geometry)
        self.link = dict(link)
        self.cfg = cfg
        self.core = NeuronCore(cfg)
        self.depth = spec.region_depths(self.g["n_neurons"], self.g["n_inputs"],
                                        self.g["syn_capacity"],
                                        queue=bool(self.g.get("queue", False)))
        # the spike-queue memory as the RTL keeps it: the last update's spikes at the
        # front, older words behind them (QUEUE reads every word)
        self.queue_mem = [0] * self.g["n_neurons"]
        # the static regions as uploaded (the core starts with empty memories)
        init = cfg.memory_image(n_inputs=self.g["n_inputs"])
        self.mem = {r: [0] * d for r, d in self.depth.items()}
        for region in (Region.PROFILE, Region.ROWPTR, Region.SYNAPSE, Region.CTRL):
            self.mem[region][:len(init[region])] = [int(w) for w in init[region]]
        self.profile = np.asarray(cfg.profile, dtype=np.int64)
        self.counters = {c: 0 for c in spec.Counter}
        self.in_fifo = []            # channels and "END"
        self.out_fifo = []           # neurons and "END"
        self.last = None             # (opcode, seq, reply body) of the last executed command
        self.steps_read = 0          # step ends sent by READ_EVENTS (mod 2**16; RESET keeps it)
        self.max_body = self.g["max_payload"] + spec.MIN_BODY

    # -- frames --------------------------------------------------------------------------
    def _reply(self, opcode, seq, payload=b""):
        return codec.frame_body(opcode, seq, payload, max_payload=spec.MAX_PAYLOAD)

    def _nak(self, reason, opcode, seq):
        self.counters[spec.Counter.NAKS_SENT] += 1
        return self._reply(spec.NAK_OPCODE, seq, bytes([Nak(reason).value, opcode]))

    def send(self, body, status=FrameStatus.OK):
        """Expected reply body to a received frame ``body`` (decoder end ``status``)."""
        C = spec.Counter
        opcode = body[0] if len(body) >= 1 else 0
        seq = body[1] if len(body) >= 2 else 0
        if status == FrameStatus.OVERSIZE or len(body) > self.max_body:
            self.counters[C.OVERSIZE_FRAMES] += 1
            return self._nak(Nak.OVERSIZE, opcode, seq)
        if status == FrameStatus.COBS or len(body) < spec.MIN_BODY:
            self.counters[C.FRAMING_ERRORS] += 1
            return self._nak(Nak.FRAMING, opcode, seq)
        if codec.crc16(body) != spec.CRC16.residue:
            self.counters[C.CRC_ERRORS] += 1
            return self._nak(Nak.CRC, opcode, seq)
        self.counters[C.FRAMES_OK] += 1
        if opcode not in {op.value for op in Opcode}:
            self.counters[C.UNKNOWN_OPCODES] += 1
            return self._nak(Nak.UNKNOWN_OPCODE, opcode, seq)
        if self.last is not None and self.last[:2] == (opcode, seq):
            # a retransmission: the stored reply again (a replayed NAK is a NAK sent)
            if self.last[2][0] == spec.NAK_OPCODE:
                self.counters[C.NAKS_SENT] += 1
            return self.last[2]
        payload = bytes(body[spec.HEADER_BYTES:-spec.CRC_BYTES])
        result = self._execute(Opcode(opcode), payload)
        if isinstance(result, Nak):
            reply = self._nak(result, opcode, seq)
        else:
            reply = self._reply(spec.reply_opcode(opcode), seq, result)
        self.last = (opcode, seq, reply)
        return reply

    # -- commands ------------------------------------------------------------------------
    def _execute(self, op, p):
        g = self.g
        fixed = {Opcode.IDENTIFY: 0, Opcode.STATUS: 0, Opcode.CLEAR_STATUS: 0,
                 Opcode.RESET: 0, Opcode.READ_EVENTS: 0, Opcode.RUN: 4, Opcode.PACE: 4}
        if op in fixed and len(p) != fixed[op]:
            return Nak.BAD_LENGTH
        if op == Opcode.IDENTIFY:
            return codec.pack_struct(
                spec.IdentifyReply, protocol=spec.PROTOCOL_VERSION, board=self.link["board_id"],
                build=self.link["build_hash"], clk_hz=self.link["clk_hz"],
                max_payload=g["max_payload"], n_cores=1, n_profiles=spec.PROFILE_COUNT,
                n_neurons=g["n_neurons"], n_inputs=g["n_inputs"],
                n_synapses=g["syn_capacity"], in_depth=g["in_depth"], out_depth=g["out_depth"],
                kernel=self.cfg.kernel.kernel_id, learning=int(self.cfg.learning is not None),
                queue=int(bool(self.g.get("queue", False))),
                pace=int(bool(self.g.get("pace", False))))
        if op == Opcode.STATUS:
            return codec.pack_struct(
                spec.StatusReply, **{c.name.lower(): v for c, v in self.counters.items()},
                steps_pending=0, in_level=len(self.in_fifo), out_level=len(self.out_fifo),
                parity_errors=0)
        if op == Opcode.CLEAR_STATUS:
            self.counters = {c: 0 for c in spec.Counter}
            return b""
        if op == Opcode.RESET:
            st = self.core.state
            for a in (*st.neurons.values(), st.acc):
                a[...] = 0
            st.step, st.pending = 0, np.zeros(0, dtype=np.int64)
            self.in_fifo, self.out_fifo = [], []
            return b""
        if op == Opcode.ECHO:
            return p
        if op in (Opcode.WRITE_MEM, Opcode.READ_MEM):
            return self._mem(op, p)
        if op == Opcode.INJECT:
            return self._inject(p)
        if op == Opcode.PACE:
            # (the golden twin runs steps at once: a period changes when they run, not
            # what they compute; a board without pacing takes only period 0)
            period = codec.unpack_struct(spec.PaceRequest, p)["period"]
            if period and not self.g.get("pace", False):
                return Nak.BAD_ARG
            return b""
        if op == Opcode.RUN:
            self.run(codec.unpack_struct(spec.RunRequest, p)["steps"])
            return b""
        # READ_EVENTS: the run is over, so the buffer holds whole steps, and a full
        # buffer's records fit one reply (see link_controller_case)
        steps, cur = [], []
        for e in self.out_fifo:
            if e == "END":
                steps.append(cur)
                cur = []
            else:
                cur.append(e)
        assert not cur
        self.out_fifo = []
        self.steps_read = (self.steps_read + len(steps)) & 0xFFFF
        return (codec.pack_struct(spec.EventsHeader, steps_pending=0, remaining=0,
                                  steps_read=self.steps_read)
                + codec.pack_records(steps))

    def _mem(self, op, p):
        n = spec.MemHeader.size // 8
        if len(p) < n or (op == Opcode.READ_MEM and len(p) != n):
            return Nak.BAD_LENGTH
        h = codec.unpack_struct(spec.MemHeader, p[:n])
        if h["region"] >= len(Region) or not self.depth[Region(h["region"])]:
            return Nak.BAD_REGION             # (PRE, POST, QUEUE: not on every core)
        region = Region(h["region"])
        kernel = self.cfg.kernel
        start, count, nb = h["start"], h["count"], kernel.word_bytes[region]
        if start + count > self.depth[region]:
            return Nak.BAD_RANGE
        size = len(p) - n
        if (size != count * nb) if op == Opcode.WRITE_MEM else \
                (size != 0 or count * nb > self.g["max_payload"]):
            return Nak.BAD_LENGTH
        if op == Opcode.READ_MEM:
            return codec.pack_words(region, self.words(region)[start:start + count],
                                    kernel=kernel)
        words = [int(w) for w in codec.unpack_words(region, p[n:], kernel=kernel)]
        self._write(region, start, words)
        return b""

    def _write(self, region, start, words):
        # (the script rewrites the network only with the config's own words, or words no
        # neuron uses: the golden core keeps running ``cfg``)
        st, end = self.core.state, start + len(words)
        if region == Region.STATE:
            f = codec.words_to_fields(self.cfg.kernel.state_word, words)
            for name in self.cfg.kernel.state_fields:
                st.neurons[name][start:end] = f[name]
            self.profile[start:end] = f["profile"]
        elif region == Region.ACC:
            w = spec.REGION_WORD_WIDTH[Region.ACC]
            for k, x in enumerate(words, start):
                st.acc[k % spec.DELAY_SLOTS, k // spec.DELAY_SLOTS] = \
                    x - (1 << w) if x >> (w - 1) else x
        elif region == Region.CTRL and end > Ctrl.STEP.value >= start:
            # writing STEP also empties the core's spike queue
            st.step = words[Ctrl.STEP.value - start]
            st.pending = np.zeros(0, dtype=np.int64)
        elif region == Region.QUEUE:
            n = self.g["n_neurons"]
            mask = (1 << max(1, (n - 1).bit_length())) - 1
            for k, x in enumerate(words, start):
                if k < n:
                    self.queue_mem[k] = x & mask
            if end > n:                  # the count (at most n: the writer's contract)
                st.pending = np.asarray(self.queue_mem[:words[n - start]], dtype=np.int64)
            else:
                st.pending = np.asarray(self.queue_mem[:len(st.pending)], dtype=np.int64)
        self.mem[region][start:end] = words

    def words(self, region):
        """Current words of ``region``: the static ones as uploaded, the dynamic ones
        (neuron state, accumulators, STEP) from the golden core."""
        st, n = self.core.state, self.g["n_neurons"]
        if region == Region.STATE:
            return [int(w) for w in codec.fields_to_words(
                self.cfg.kernel.state_word, **st.neurons, profile=self.profile)]
        if region == Region.ACC:
            mask = (1 << spec.REGION_WORD_WIDTH[Region.ACC]) - 1
            return [int(st.acc[k % spec.DELAY_SLOTS, k // spec.DELAY_SLOTS]) & mask
                    for k in range(n * spec.DELAY_SLOTS)]
        if region == Region.CTRL:
            return [self.mem[Region.CTRL][0], st.step & 0xFFFFFFFF]
        if region == Region.QUEUE:
            return self.queue_mem + [len(st.pending)]
        return list(self.mem[region])

    def _inject(self, p):
        try:
            chans, ends = codec.unpack_records(p)
        except ValueError:
            return Nak.BAD_LENGTH
        if (chans >= self.g["n_inputs"]).any():
            return Nak.BAD_ARG
        entries = []
        for k, c in enumerate(chans.tolist()):
            entries.append(c)
            entries += ["END"] * int((ends == k + 1).sum())
        entries = ["END"] * int((ends == 0).sum()) + entries
        if len(entries) > self.g["in_depth"] - len(self.in_fifo):
            self.counters[spec.Counter.EVENT_OVERFLOWS] += 1
            return Nak.NO_SPACE
        self.in_fifo += entries
        return b""

    def _next_input(self):
        """The channels of the next step: a complete buffered step, else none."""
        if "END" not in self.in_fifo:
            return []
        k = self.in_fifo.index("END")
        chans, self.in_fifo = self.in_fifo[:k], self.in_fifo[k + 1:]
        return chans

    def run(self, steps):
        for _ in range(steps):
            spikes = self.core.step(self._next_input())
            self.queue_mem[:len(spikes)] = [int(s) for s in spikes]
            self.out_fifo += [int(s) for s in spikes] + ["END"]

    def run_fits(self, steps):
        """Whether ``steps`` more steps finish without READ_EVENTS (the core would wait for
        room in the output buffer: when it resumes would depend on the script's timing)."""
        from neurofab.golden.core import NeuronCore
        core = NeuronCore(self.cfg, self.core.state)
        fifo_in, out = list(self.in_fifo), len(self.out_fifo)
        for _ in range(steps):
            if "END" in fifo_in:
                k = fifo_in.index("END")
                chans, fifo_in = fifo_in[:k], fifo_in[k + 1:]
            else:
                chans = []
            out += len(core.step(chans)) + 1
            if out > self.g["out_depth"]:
                return False
        return True
