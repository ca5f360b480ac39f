"""Golden twin of ``rtl/encoded_core.py``: a spike encoder's golden model feeding
``golden.core.NeuronCore``, step by step.

Per step the encoder turns one value per channel into that step's input channels
(``golden.encoders.spike``), and the core integrates them and updates
(``golden.core``): exactly ``golden.core.run(cfg, encoder.run(values))``, with the state
of both kept between calls.
"""

import numpy as np

from neurofab.spec import encoders as S
from .core import NeuronCore
from .encoders.spike import ENCODERS

__all__ = ["EncodedCore", "run"]


class EncodedCore:
    """Encoder + core, bit-true to ``rtl.encoded_core.EncodedCore``.

    Parameters
    ----------
    cfg : CoreConfig
    encoder : str or golden encoder
        ``"rate"``, ``"latency"``, ``"delta"``, ``"population"`` (built with
        ``encoder_args``, ``channels`` defaulting as in the RTL) or an instance of
        ``golden.encoders.RateEncoder`` etc.
    state : CoreState, optional
        Start state of the core.
    **encoder_args
        The encoder's parameters — the same arguments the RTL ``EncodedCore`` takes.

    Attributes: ``encoder``, ``core`` (``NeuronCore``; ``core.state`` is the core state),
    ``synaptic_events``.
    """

    def __init__(self, cfg, encoder="rate", *, state=None, **encoder_args):
        self.core = NeuronCore(cfg, state)
        if isinstance(encoder, str):
            S.check_encoder_kind(encoder)
            args = dict(encoder_args)
            if "channels" not in args:
                args["channels"] = S.encoder_channels(encoder, cfg.n_inputs,
                                                    args.get("fields", S.POP_DEFAULT_FIELDS))
            encoder = ENCODERS[encoder](**args)
        elif encoder_args:
            raise TypeError(f"encoder arguments {sorted(encoder_args)} given with an encoder "
                            f"instance")
        elif not isinstance(encoder, tuple(ENCODERS.values())):
            raise TypeError(f"encoder must be one of {S.ENCODER_KINDS} or a golden spike "
                            f"encoder, not {encoder!r}")
        if encoder.out_channels > cfg.n_inputs:
            raise ValueError(f"the encoder drives {encoder.out_channels} core channels, the "
                             f"core has n_inputs = {cfg.n_inputs}")
        self.encoder = encoder

    @property
    def state(self):
        return self.core.state

    @property
    def synaptic_events(self):
        return self.core.synaptic_events

    def step(self, values):
        """One step: ``values`` (one per encoder channel) -> the sorted fired neurons."""
        v = np.asarray(values)
        chans = self.encoder.run(v.reshape(1, -1))[0]
        return self.core.step(chans)

    def run(self, values, trace=False):
        """``values`` of shape ``(steps, channels)`` -> one spike array per step; with
        ``trace`` also ``(inputs, states)``: the encoded input channels and the core state
        after every step."""
        values = np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"values must have shape (steps, {self.encoder.channels}), not "
                             f"{values.shape}")
        spikes, inputs, states = [], [], []
        for row in values:
            chans = self.encoder.run(row[None, :])[0]
            spikes.append(self.core.step(chans))
            if trace:
                inputs.append(chans)
                states.append(self.core.state.copy())
        return (spikes, inputs, states) if trace else spikes


def run(cfg, values, encoder="rate", trace=False, **encoder_args):
    """One-call form: ``EncodedCore(cfg, encoder, **encoder_args).run(values, trace)``."""
    return EncodedCore(cfg, encoder, **encoder_args).run(values, trace)
