"""Host-link formats: UART, framing (COBS + CRC-16), opcodes, payloads, limits.

``docs/protocol.md`` is the prose twin of this module: byte tables, examples with hex
dumps and the rules (flow control, retransmission) that numbers cannot say. The host
codec (``neurofab.host.codec``), the golden framing models (``neurofab.golden.link``)
and the link gateware (``neurofab.rtl.link``) all take their numbers from here.

Every multi-byte field on the wire is little endian, except the CRC, which is sent most
significant byte first (so that the CRC over a whole frame body is a constant, see
``CRC16_RESIDUE``).
Fixed-size payload layouts below are ``StructLayout`` s of whole-byte fields; the first
field is the least significant, so ``layout.const(...).as_value().value.to_bytes(n, "little")``
is the wire form (``neurofab.host.codec.pack_struct`` does exactly that).
"""

from dataclasses import dataclass

from amaranth import unsigned
from amaranth.lib import data, enum

from .core import (
    Region, NeuronState, Profile, RowPtr, Synapse, ACC_WIDTH, STEP_WIDTH,
    NEURON_ADDR_WIDTH, CHANNEL_WIDTH, MEM_INDEX_WIDTH, DELAY_SLOTS, QUEUE_WIDTH,
)
from .aer import Route
from .learning import Homeo, PlasticSynapse, PostTrace, PreTrace, Rule, Traces

__all__ = [
    # physical layer
    "DEFAULT_BAUD", "UART_DATA_BITS", "UART_MIN_DIVISOR", "UART_MAX_BAUD_ERROR", "uart_divisor",
    # framing
    "FRAME_DELIMITER", "COBS_MAX_BLOCK", "cobs_max_encoded",
    "CRC16_NAME", "CRC16_POLY", "CRC16_INIT", "CRC16_REFIN", "CRC16_REFOUT", "CRC16_XOROUT",
    "CRC16_CHECK", "CRC16_RESIDUE", "CRC_BYTES", "CrcParams", "CRC16",
    "HEADER_BYTES", "MIN_BODY", "MAX_BODY", "MAX_PAYLOAD", "MIN_MAX_PAYLOAD", "MAX_ENCODED",
    "FrameStatus", "FrameByte", "DecodedByte", "CrcByte",
    # protocol
    "PROTOCOL_VERSION", "REPLY_FLAG", "NAK_OPCODE", "Opcode", "Nak", "Counter",
    "reply_opcode", "ROUTE_TARGET", "MAX_TARGETS", "ROUTE_WORD_BYTES", "ENCODER_IDS",
    "ENCODER_ARG", "RegionByte",
    "MemHeader", "RunRequest", "PaceRequest", "NakPayload", "IdentifyReply", "StatusReply", "EventsHeader",
    "MAX_OUT_DEPTH",
    "EVENT_INDEX_BYTES", "RECORD_END", "RECORD_COUNT_MAX", "RECORD_HEADER_BYTES",
    "REGION_WORD_WIDTH", "REGION_WORD_BYTES", "REGION_LAYOUT", "region_word_bytes",
    "region_word_widths", "region_word_byte_counts",
    "DEFAULT_TIMEOUT", "DEFAULT_RETRIES", "DEFAULT_BACKOFF", "SIMBOARD_BUSY",
    "SIMBOARD_CLIENT_TIMEOUT",
]


def _bytes(width):
    return (width + 7) // 8


# --- physical layer: UART ----------------------------------------------------------
#: Link rate every board supports unless its registry entry says otherwise (8N1).
DEFAULT_BAUD = 3_000_000
UART_DATA_BITS = 8
#: Smallest clock divisor (clocks per bit) the UART gateware accepts: below it the
#: mid-bit sampling and the half-bit glitch filter have no room.
UART_MIN_DIVISOR = 4
#: Largest relative error between ``clk_hz / divisor`` and the nominal baud rate that
#: :func:`uart_divisor` accepts. The receiver itself tolerates a ±2 % mismatch.
UART_MAX_BAUD_ERROR = 0.02


def uart_divisor(clk_hz, baud):
    """Clocks per bit, ``round(clk_hz / baud)``, validated.

    Raises ``ValueError`` if the divisor is below ``UART_MIN_DIVISOR`` or the achieved rate
    is off by more than ``UART_MAX_BAUD_ERROR``.
    """
    if clk_hz <= 0 or baud <= 0:
        raise ValueError(f"clk_hz = {clk_hz} and baud = {baud} must both be positive")
    divisor = round(clk_hz / baud)
    if divisor < UART_MIN_DIVISOR:
        raise ValueError(f"divisor round({clk_hz} / {baud}) = {divisor} is below the minimum "
                         f"{UART_MIN_DIVISOR}: lower the baud rate or raise the clock")
    error = abs(clk_hz / divisor - baud) / baud
    if error > UART_MAX_BAUD_ERROR:
        raise ValueError(f"{clk_hz} Hz / {divisor} = {clk_hz / divisor:.0f} baud is "
                         f"{100 * error:.2f} % off {baud} baud (limit "
                         f"{100 * UART_MAX_BAUD_ERROR:.0f} %): pick another clock or baud")
    return divisor


# --- framing: COBS -----------------------------------------------------------------
#: Frames are COBS-encoded and each is followed by one delimiter byte.
FRAME_DELIMITER = 0x00
#: Longest run of non-zero bytes one COBS block carries (code byte 0xFF).
COBS_MAX_BLOCK = 254


def cobs_max_encoded(n):
    """Largest COBS encoding (without delimiter) of an ``n``-byte frame."""
    return n + max(1, -(-n // COBS_MAX_BLOCK))


# --- framing: CRC ------------------------------------------------------------------
#: CRC-16/GENIBUS (reveng; also CRC-16/EPC, CRC-16/DARC): CCITT-FALSE's polynomial and
#: init with xorout 0xFFFF. A non-zero xorout makes the residue non-zero, so zero bytes
#: appended to a good body (a delimiter flipped to 0x01 turns into one) fail the check;
#: with CCITT-FALSE (xorout 0, protocol ≤ 4) "body + 00" passed.
CRC16_NAME = "CRC-16/GENIBUS"
CRC16_POLY = 0x1021          #: x^16 + x^12 + x^5 + 1
CRC16_INIT = 0xFFFF
CRC16_REFIN = False
CRC16_REFOUT = False
CRC16_XOROUT = 0xFFFF
CRC16_CHECK = 0xD64E         #: CRC of the nine ASCII bytes "123456789"
#: CRC over a whole body whose last two bytes are its CRC (big-endian).
CRC16_RESIDUE = 0xE2F0        #: (reveng lists the register before xorout: 0x1D0F)
CRC_BYTES = 2


@dataclass(frozen=True)
class CrcParams:
    """A 16-bit CRC in the Rocksoft / reveng parameter model.

    The register is kept in its unreflected (MSB-first) form; ``refin`` feeds each byte
    bit-reversed, ``refout`` bit-reverses the register on output, ``xorout`` is applied
    last. The CRC is sent most significant byte first for MSB-first models (``refout``
    false), least significant first otherwise. ``neurofab.golden.link.crc`` computes it
    (table-driven), ``neurofab.rtl.link.Crc16`` in gateware; both take these parameters.
    """
    name: str
    poly: int
    init: int
    refin: bool
    refout: bool
    xorout: int
    check: int        #: CRC of b"123456789"

    def __post_init__(self):
        for field in ("poly", "init", "xorout", "check"):
            value = getattr(self, field)
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"{self.name}: {field} = {value:#x} is not a 16-bit value")
        if not self.poly & 1:
            raise ValueError(f"{self.name}: poly = {self.poly:#06x} must have its x^0 term "
                             f"(bit 0) set")

    def _crc(self, message):
        # the definition, one bit at a time (the golden model is the fast one)
        reg = self.init
        for byte in message:
            for k in range(8):
                bit = byte >> (k if self.refin else 7 - k) & 1
                feedback = (reg >> 15) ^ bit
                reg = (reg << 1) & 0xFFFF
                if feedback:
                    reg ^= self.poly
        if self.refout:
            reg = int(f"{reg:016b}"[::-1], 2)
        return reg ^ self.xorout

    @property
    def residue(self):
        """CRC over any message followed by its own CRC (sent in the model's byte order)."""
        order = "little" if self.refout else "big"
        crc = self._crc(b"\x5a").to_bytes(2, order)
        return self._crc(b"\x5a" + crc)


#: The link's CRC.
CRC16 = CrcParams(CRC16_NAME, CRC16_POLY, CRC16_INIT, CRC16_REFIN, CRC16_REFOUT,
                  CRC16_XOROUT, CRC16_CHECK)

# --- frame geometry ----------------------------------------------------------------
#: opcode (u8) and sequence number (u8)
HEADER_BYTES = 2
MIN_BODY = HEADER_BYTES + CRC_BYTES
#: Longest frame body (opcode + seq + payload + CRC) either side ever sends or accepts.
#: Boards announce their own (possibly smaller) payload limit in IDENTIFY.
MAX_BODY = 512
MAX_PAYLOAD = MAX_BODY - MIN_BODY
#: Smallest ``max_payload`` a board may announce (IDENTIFY, STATUS replies always fit).
MIN_MAX_PAYLOAD = 64
#: Longest frame on the wire, delimiter included.
MAX_ENCODED = cobs_max_encoded(MAX_BODY) + 1


class FrameStatus(enum.Enum, shape=2):
    """Outcome of a received frame, reported by the COBS decoder's end token."""
    OK = 0          #: well-formed COBS (CRC is checked by the next stage)
    COBS = 1        #: malformed: the delimiter arrived inside a COBS block
    OVERSIZE = 2    #: more decoded bytes than the decoder's ``max_frame``


#: COBS encoder input: one frame byte, ``last`` on the frame's final byte.
FrameByte = data.StructLayout({
    "data": unsigned(8),
    "last": unsigned(1),
})

#: COBS decoder output: a decoded byte (``end = 0``), or the end of a frame (``end = 1``,
#: ``data = 0``) with its ``status``. Empty frames (two delimiters in a row) produce nothing.
DecodedByte = data.StructLayout({
    "data": unsigned(8),
    "end": unsigned(1),
    "status": FrameStatus,
})

#: CRC input: one byte; ``first`` restarts the CRC from ``CRC16_INIT`` before this byte.
CrcByte = data.StructLayout({
    "data": unsigned(8),
    "first": unsigned(1),
})

# --- protocol ----------------------------------------------------------------------
#: 6: READ_EVENTS' header counts the step ends read (``EventsHeader.steps_read``), so a
#: host sees a lost reply; ``remaining`` is u16 (an output buffer holds at most
#: ``MAX_OUT_DEPTH`` entries); region ``QUEUE`` (the spike queue, for snapshots) and
#: IDENTIFY's ``queue``; STATUS' ``parity_errors``; PACE, paced mode (IDENTIFY's ``pace``,
#: counter ``PACE_OVERRUNS``).
#: 5: the frame CRC is CRC-16/GENIBUS (xorout 0xFFFF): no single flipped bit passes.
#: 4: a board may hold several cores behind an AER router and an on-chip spike encoder:
#: ``MemHeader.target`` selects the core (or ``ROUTE_TARGET``, the routing table), and
#: IDENTIFY reports ``route_entries`` and the encoder (``encoder``, ``enc_*``).
#: 3: IDENTIFY reports whether the core learns (``learning``); a learning core has the
#: regions PRE and POST, 70-bit SYNAPSE and 67-bit CTRL words (``region_word_widths``).
#: 2: IDENTIFY reports the core's neuron kernel (``kernel``), and the widths of STATE and
#: PROFILE words are the kernel's.
PROTOCOL_VERSION = 6
#: A successful reply's opcode is the command's opcode with this bit set.
REPLY_FLAG = 0x80
#: Opcode of a negative reply; its payload is ``NakPayload``.
NAK_OPCODE = 0xFF


class Opcode(enum.Enum, shape=8):
    """Command opcodes (host → board). Replies: ``reply_opcode(cmd)`` or ``NAK_OPCODE``."""
    IDENTIFY = 0x01       #: → ``IdentifyReply``
    STATUS = 0x02         #: → ``StatusReply``
    CLEAR_STATUS = 0x03   #: zero all counters → empty ACK
    RESET = 0x04          #: stop, clear dynamic state and event buffers → empty ACK
    ECHO = 0x05           #: → the same payload (link test)
    WRITE_MEM = 0x10      #: ``MemHeader`` + words → empty ACK
    READ_MEM = 0x11       #: ``MemHeader`` → words
    INJECT = 0x20         #: event records → empty ACK
    RUN = 0x21            #: ``RunRequest`` → empty ACK (steps are queued)
    READ_EVENTS = 0x22    #: → ``EventsHeader`` + event records
    PACE = 0x23           #: ``PaceRequest`` → empty ACK (paced mode: one step a period)


def reply_opcode(opcode):
    """Opcode of the successful reply (ACK / DATA) to command ``opcode``."""
    return Opcode(opcode).value | REPLY_FLAG


class Nak(enum.Enum, shape=8):
    """NAK reason codes (first payload byte of a NAK)."""
    CRC = 0x01             #: frame CRC mismatch (counter ``CRC_ERRORS``)
    FRAMING = 0x02         #: malformed COBS or body shorter than ``MIN_BODY`` (``FRAMING_ERRORS``)
    OVERSIZE = 0x03        #: body longer than ``MAX_BODY`` (``OVERSIZE_FRAMES``)
    UNKNOWN_OPCODE = 0x04  #: CRC good, opcode not a command (``UNKNOWN_OPCODES``)
    BAD_LENGTH = 0x05      #: payload length wrong for the command or over ``max_payload``
    BAD_REGION = 0x06      #: region byte is not a ``Region`` of this core
    BAD_RANGE = 0x07       #: ``start + count`` beyond the region's depth on this board
    BAD_ARG = 0x08         #: a field out of range (channel >= n_inputs, steps overflow)
    BUSY = 0x09            #: WRITE_MEM / READ_MEM while steps are running
    NO_SPACE = 0x0A        #: INJECT does not fit the input buffer (``EVENT_OVERFLOWS``)


class Counter(enum.Enum, shape=4):
    """Link status counters (u32 each, wrap modulo 2**32), in ``StatusReply`` order."""
    FRAMES_OK = 0          #: frames that passed COBS, length and CRC checks
    CRC_ERRORS = 1
    FRAMING_ERRORS = 2     #: malformed COBS and runt frames (body < MIN_BODY)
    OVERSIZE_FRAMES = 3
    UNKNOWN_OPCODES = 4
    NAKS_SENT = 5          #: every NAK, whatever the reason
    EVENT_OVERFLOWS = 6    #: INJECT commands refused with NAK NO_SPACE
    UART_ERRORS = 7        #: bytes with a bad stop bit (UART framing errors)
    RX_OVERRUNS = 8        #: received bytes dropped because the receive path was full
    PACE_OVERRUNS = 9      #: paced mode: periods whose step could not start on time


# --- payload layouts (all fields whole bytes, little endian) -----------------------
#: WRITE_MEM / READ_MEM header: ``region`` is a ``RegionByte`` (a ``Region`` value and
#: the target core), ``start`` a word index (u32 on the wire, the core uses
#: ``MEM_INDEX_WIDTH`` bits of it).
MemHeader = data.StructLayout({
    "region": unsigned(8),
    "start": unsigned(32),
    "count": unsigned(16),
})
assert MEM_INDEX_WIDTH <= 32
#: ``MemHeader.region``: the ``Region`` (low nibble) of ``target`` (high nibble: core
#: ``0 .. n_cores - 1``, or ``ROUTE_TARGET`` for the routing table of a multi-core board;
#: 0 on a one-core board).
RegionByte = data.StructLayout({
    "region": unsigned(4),
    "target": unsigned(4),
})
#: Targets a ``MemHeader`` can name (cores and the routing table).
MAX_TARGETS = 1 << RegionByte["target"].width
#: ``MemHeader.target`` of the routing table (region 0, word = ``spec.Route`` at index
#: ``port * route_entries + slot``; write-only: READ_MEM of it is refused ``BAD_REGION``).
ROUTE_TARGET = MAX_TARGETS - 1
#: Bytes of one routing-table word (``spec.Route``) on the wire.
ROUTE_WORD_BYTES = _bytes(Route.size)
#: IDENTIFY's ``encoder`` byte: the on-chip spike encoder in front of the input channels
#: (0: none, the host sends events).
ENCODER_IDS = {"rate": 1, "latency": 2, "delta": 3, "population": 4}
#: The encoder parameter IDENTIFY's ``enc_arg`` carries, per encoder (``enc_seed``: the
#: LFSR seed of rate and population).
ENCODER_ARG = {"rate": None, "latency": "window", "delta": "threshold",
               "population": "fields"}

RunRequest = data.StructLayout({
    "steps": unsigned(32),
})

#: PACE: clocks per step (0: every step as soon as the one before ends, the default).
PaceRequest = data.StructLayout({
    "period": unsigned(32),
})

NakPayload = data.StructLayout({
    "reason": Nak,
    "opcode": unsigned(8),     #: opcode byte of the refused frame as received (0 if none)
})

IdentifyReply = data.StructLayout({
    "protocol": unsigned(16),      #: ``PROTOCOL_VERSION``
    "board": unsigned(16),         #: board id from the board registry (0 = simulated)
    "build": unsigned(64),         #: first 8 bytes of the gateware build hash, little endian
    "clk_hz": unsigned(32),        #: core clock frequency
    "max_payload": unsigned(16),   #: longest payload the board accepts and sends (<= MAX_PAYLOAD)
    "n_cores": unsigned(8),
    "n_profiles": unsigned(8),
    "n_neurons": unsigned(32),     #: neurons per core (depth of region STATE)
    "n_inputs": unsigned(32),      #: input channels (ROWPTR depth = n_neurons + n_inputs)
    "n_synapses": unsigned(32),    #: depth of region SYNAPSE
    "in_depth": unsigned(32),      #: input event buffer, entries (events + step ends)
    "out_depth": unsigned(32),     #: output event buffer, entries (spikes + step ends)
    "kernel": unsigned(8),         #: the cores' neuron kernel (``KERNEL_IDS``)
    "learning": unsigned(8),       #: 1: the cores learn (``neurofab.spec.learning``), else 0
    "route_entries": unsigned(8),  #: routing-table slots per router port (0: no router)
    "encoder": unsigned(8),        #: on-chip spike encoder (``ENCODER_IDS``; 0: none)
    "enc_width": unsigned(8),      #: encoder value bits (0: no encoder)
    "enc_channels": unsigned(32),  #: values per step the encoder takes
    "enc_seed": unsigned(32),      #: rate / population: LFSR seed
    "enc_arg": unsigned(32),       #: latency: window; delta: threshold; population: fields
    "queue": unsigned(8),          #: 1: the cores have region QUEUE (snapshots), else 0
    "pace": unsigned(8),           #: 1: PACE takes a period (paced mode), else only 0
})

StatusReply = data.StructLayout(
    {c.name.lower(): unsigned(32) for c in Counter} | {
        "steps_pending": unsigned(32),   #: steps queued by RUN and not finished yet
        "in_level": unsigned(32),        #: entries in the input event buffer
        "out_level": unsigned(32),       #: entries in the output event buffer
        #: the core's parity-error counter (``CTRL_PARITY``; 0 without parity)
        "parity_errors": unsigned(32),
    })

#: READ_EVENTS reply header, sampled in one clock cycle after the returned entries left
#: the output buffer; event records follow.
EventsHeader = data.StructLayout({
    "steps_pending": unsigned(32),
    "remaining": unsigned(16),       #: output buffer entries still to read
    #: end-of-step records sent in READ_EVENTS replies since power-up, this reply's
    #: included, modulo ``2 ** 16`` (RESET keeps it): a host sees a lost reply as a gap
    "steps_read": unsigned(16),
})
#: The deepest output event buffer a board may have (``remaining`` is u16).
MAX_OUT_DEPTH = 1 << 15

# --- event records (INJECT payload, READ_EVENTS reply after the header) ------------
#: A record is a u16 header (bits 0..14: count, bit 15: END) then ``count`` indices
#: (channels for INJECT, neurons for READ_EVENTS), each in ``EVENT_INDEX_BYTES``
#: little-endian bytes. END closes the step; a record without END continues.
RECORD_HEADER_BYTES = 2
EVENT_INDEX_BYTES = _bytes(max(CHANNEL_WIDTH, NEURON_ADDR_WIDTH))
RECORD_END = 0x8000
RECORD_COUNT_MAX = RECORD_END - 1

# --- memory words --------------------------------------------------------------------
def region_word_widths(state_word=NeuronState, profile=Profile, *, learning=False):
    """Width of one word of each region as carried by WRITE_MEM / READ_MEM, for a core
    whose kernel has the state-memory word ``state_word`` and the profile ``profile``
    (``Kernel.state_word``, ``Kernel.profile``; default CUBA-LIF's), with or without
    ``learning`` (``neurofab.spec.learning``: wider synapses, the ``TRACES`` register and
    the learning regions; width 0 on a core without them). ``QUEUE`` words have their
    width whether a core has the region or not (its depth says)."""
    return {
        Region.STATE: state_word.size,
        Region.ACC: ACC_WIDTH,
        Region.PROFILE: profile.size,
        Region.ROWPTR: RowPtr.size,
        Region.SYNAPSE: PlasticSynapse.size if learning else Synapse.size,
        # widest control register (a learning core: the rule table's words)
        Region.CTRL: max(Traces.size, Rule.size, Homeo.size) if learning else STEP_WIDTH,
        Region.PRE: PreTrace.size * learning,
        Region.POST: PostTrace.size * learning,
        Region.QUEUE: QUEUE_WIDTH,
    }


def region_word_byte_counts(state_word=NeuronState, profile=Profile, *, learning=False):
    """Bytes per word on the wire of each region (``ceil(width / 8)``, little endian,
    unused high bits zero), for the core given as in :func:`region_word_widths`."""
    return {r: _bytes(w) for r, w in
            region_word_widths(state_word, profile, learning=learning).items()}


#: Width of one word of each region of a CUBA-LIF core (any kernel's:
#: ``region_word_widths``).
REGION_WORD_WIDTH = region_word_widths()
#: Bytes per word on the wire of a CUBA-LIF core (any kernel's: ``region_word_byte_counts``).
REGION_WORD_BYTES = region_word_byte_counts()
#: Struct layout of a region's word (``None``: a plain integer, signed for ACC).
REGION_LAYOUT = {
    Region.STATE: NeuronState, Region.ACC: None, Region.PROFILE: Profile,
    Region.ROWPTR: RowPtr, Region.SYNAPSE: Synapse, Region.CTRL: None,
    Region.PRE: PreTrace, Region.POST: PostTrace, Region.QUEUE: None,
}
assert set(REGION_WORD_WIDTH) == set(Region)
assert max(IdentifyReply.size, StatusReply.size) // 8 <= MIN_MAX_PAYLOAD
assert DELAY_SLOTS >= 1


def region_word_bytes(region, word_bytes=None):
    """Bytes of one word of ``region`` (a ``Region`` or its value) on the wire, from the
    dict ``word_bytes`` of a kernel (:func:`region_word_byte_counts`; default
    CUBA-LIF's)."""
    return (REGION_WORD_BYTES if word_bytes is None else word_bytes)[Region(region)]


# --- host behaviour ------------------------------------------------------------------
#: Default time a host waits for a reply before retransmitting (seconds), on top of the
#: frame transfer times at the link baud rate.
DEFAULT_TIMEOUT = 0.5
#: Retransmissions before a host gives up on a command (enough to ride through a line
#: that damages one frame in ten).
DEFAULT_RETRIES = 8
#: Each timeout of a command waits this many times longer than the one before.
DEFAULT_BACKOFF = 1.5

#: What a simulated board (the TCP bridge, ``host/simboard.cpp``) sends a client that
#: connects while another one is served, before it closes that connection. It starts with
#: a zero byte, so a frame decoder never takes it for (part of) a frame.
SIMBOARD_BUSY = b"\x00neurofab simulated board: busy: another client is connected\n"
#: Seconds without a byte from its client before a simulated board disconnects it.
SIMBOARD_CLIENT_TIMEOUT = 60
