"""A neuron core driven by an on-chip spike encoder: per-channel values in, spikes out.

The encoder's ``o_event`` stream (``spec.InputEvent``: the step's events in increasing
channel order, then the end-of-step marker) is the core's ``i_events``, so a network can be
fed analogue-ish values (pixel intensities, sensor readings) instead of precomputed events.
Golden twin: ``neurofab.golden.encoded_core.EncodedCore`` (encoder golden, then
``golden.core``). Channel mapping (``docs/stochastic.md``, spike encoders): rate and latency
drive core channel ``c``, delta ``2c`` (ON) and ``2c + 1`` (OFF), population ``c·fields + j``.
"""

from amaranth import Module
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, connect, flipped

from neurofab.spec import encoders as S
from .core import NeuronCore
from .encoders import ENCODERS
from .util import checked_init

__all__ = ["EncodedCore"]


class EncodedCore(wiring.Component):
    """``NeuronCore`` whose ``i_events`` come from a spike encoder.

    Parameters
    ----------
    cfg : CoreConfig or None
        The network (memory init), as for ``NeuronCore``; ``n_neurons``, ``n_inputs``,
        ``syn_capacity``, ``syn_bank_depth`` and ``spike_fifo`` are passed on to it.
    encoder : str or encoder component
        ``"rate"``, ``"latency"``, ``"delta"`` or ``"population"`` (built with
        ``encoder_args``; ``channels`` defaults to as many values as fill the core's input
        channels), or an instance of ``rtl.encoders.RateEncoder`` etc.
    **encoder_args
        Parameters of the encoder (``width``, ``seed``, ``window``, ``threshold``,
        ``fields``, …), the same as its golden twin takes.

    The encoder may drive at most the core's ``n_inputs`` channels (an event on a channel
    without fan-out would be silently lost: ValueError instead).

    Ports
    -----
    i_value : In(stream.Signature(unsigned(width)))
        Per step, one value per encoder channel in channel order (see the encoder).
    o_spikes, i_mem, o_mem, o_idle
        The core's (``NeuronCore``).
    i_flush : In(1)
        Restart the encoder (its registers: LFSR, latency phase, channel counter; a delta
        encoder's memory of previous values is kept), e.g. on a board's RESET.

    Attributes
    ----------
    encoder, core : the two submodules (their state is the state of this block).
    """

    @checked_init
    def __init__(self, cfg=None, encoder="rate", *, n_neurons=None, n_inputs=None,
                 syn_capacity=None, syn_bank_depth=None, spike_fifo="registers",
                 **encoder_args):
        self.core = NeuronCore(cfg, n_neurons=n_neurons, n_inputs=n_inputs,
                               syn_capacity=syn_capacity, syn_bank_depth=syn_bank_depth,
                               spike_fifo=spike_fifo)
        built = None
        try:
            if isinstance(encoder, str):
                S.check_encoder_kind(encoder)
                args = dict(encoder_args)
                if "channels" not in args:
                    args["channels"] = S.encoder_channels(
                        encoder, self.core.n_inputs, args.get("fields", S.POP_DEFAULT_FIELDS))
                encoder = built = ENCODERS[encoder](**args)
            elif encoder_args:
                raise TypeError(f"encoder arguments {sorted(encoder_args)} given with an "
                                f"encoder instance")
            elif not isinstance(encoder, tuple(ENCODERS.values())):
                raise TypeError(f"encoder must be one of {S.ENCODER_KINDS} or a spike "
                                f"encoder component, not {encoder!r}")
            drives = encoder.channels * encoder.out_per_channel
            if drives > self.core.n_inputs:
                raise ValueError(f"the encoder drives {drives} core channels, the core has "
                                 f"n_inputs = {self.core.n_inputs}")
        except Exception:
            for unused in (self.core, built):
                if unused is not None:
                    unused._MustUse__silence = True
            raise
        self.encoder = encoder
        members = {"i_value": encoder.signature.members["i_value"]}
        for name, member in self.core.signature.members.items():
            if name != "i_events":
                members[name] = member
        members["i_flush"] = In(1)
        super().__init__(members)

    @property
    def n_neurons(self):
        return self.core.n_neurons

    @property
    def n_inputs(self):
        return self.core.n_inputs

    def elaborate(self, platform):
        m = Module()
        enc = self.encoder
        m.submodules.encoder = ResetInserter({"sync": self.i_flush})(enc)
        m.submodules.core = core = self.core
        connect(m, flipped(self.i_value), enc.i_value)
        connect(m, enc.o_event, core.i_events)
        connect(m, flipped(self.o_spikes), core.o_spikes)
        connect(m, flipped(self.i_mem), core.i_mem)
        connect(m, flipped(self.o_mem), core.o_mem)
        m.d.comb += self.o_idle.eq(core.o_idle)
        return m
