"""Cases of the encoded core (``rtl/encoded_core.py`` against ``golden/encoded_core.py``):
a spike encoder in front of a neuron core, values in, spikes out.

Compared are the spikes of every step, the core's full state through ``i_mem`` (the
readback of :mod:`.core`) and the encoder's state through the probe. On Verilator and gate
level the core is built with empty memories and the network is uploaded through ``i_mem``
first.
"""

import numpy as np

from neurofab import spec
from neurofab.spec import encoders as S

from .core import config_read, state_read, upload_read
from .encoders import ENCODER_PROBES, encoder_state, encoder_values, pick
from .engine import Step, StepCase

__all__ = ["encoded_core_case", "make"]


def encoded_core_case(cfg, values, encoder="rate", *, syn_capacity=None, params=None,
                      **encoder_args):
    """The :class:`~neurofab.cosim.engine.StepCase` of an ``rtl.encoded_core.EncodedCore`` running ``cfg`` on
    ``values`` (shape ``(steps, channels)``) against ``golden.encoded_core``: the spikes of
    every step, the core's full state through ``i_mem`` (as the core harness reads it) and
    the encoder's state through the probe. On Verilator the core is built with empty
    memories of ``syn_capacity`` synapses (default: the next power of two) and ``cfg`` is
    uploaded through ``i_mem`` first."""
    from neurofab.golden import encoded_core as golden_encoded_core
    from neurofab.rtl.encoded_core import EncodedCore
    kind = S.check_encoder_kind(encoder)
    gold = golden_encoded_core.EncodedCore(cfg, kind, **encoder_args)
    channels, fields = gold.encoder.channels, gold.encoder.fields
    neurons, n_inputs = cfg.n_neurons, cfg.n_inputs
    if syn_capacity is None:
        syn_capacity = 1 << max(0, cfg.n_synapses - 1).bit_length()
    values = np.asarray(values)
    out, states = [], []
    for t in range(values.shape[0]):
        spk = gold.step(values[t])
        states.append(gold.state.copy())
        words = [spec.pack(spec.SpikeEvent, neuron=k, eos=0) for k in spk]
        words.append(spec.pack(spec.SpikeEvent, neuron=0, eos=1))
        out.append(Step({"i_value": [int(x) for x in values[t]]}, {"o_spikes": words},
                        {"encoder.channel": 0, **{f"encoder.{k}": v for k, v in
                                                  encoder_state(kind, gold.encoder).items()}},
                        channels * fields + 2 * cfg.n_synapses + 4 * neurons + 50))
    if params is None:
        params = {"encoder": kind, "neurons": neurons, "n_inputs": n_inputs,
                  "channels": channels, "synapses": cfg.n_synapses, **encoder_args}

    def probe(d):
        return [(f"encoder.{n}", v) for n, v in
                [("channel", d.encoder.channel)] + ENCODER_PROBES[kind](d.encoder)]
    return StepCase("encoded-core", params, lambda: EncodedCore(cfg, kind, **encoder_args),
                    out, {"o_spikes": "spikes"}, probe=probe,
                    reads=[state_read(cfg, states)], synaptic_events=gold.synaptic_events,
                    setup=[config_read(cfg, n_inputs)],
                    empty_factory=lambda: EncodedCore(
                        None, kind, n_neurons=neurons, n_inputs=n_inputs,
                        syn_capacity=syn_capacity, **encoder_args),
                    empty_setup=[upload_read(cfg, n_inputs), config_read(cfg, n_inputs)])


def make(rng, steps, **p):
    """A random network (``random_config``) behind a random spike encoder."""
    from neurofab.config import random_config
    kind = pick(rng, p, "encoder", list(S.ENCODER_KINDS))
    neurons = p.get("neurons", pick(rng, {}, "neurons", [8, 16]))
    n_inputs = p.get("n_inputs", int(rng.integers(2, 9)))
    enc = {}
    if kind in ("rate", "population"):
        enc["seed"] = p.get("seed", int(rng.integers(1, 1 << 16)))
    if kind == "population":
        enc["fields"] = p.get("fields", int(rng.integers(2, n_inputs + 1)))
        enc["width"] = p.get("width", 6)
    else:
        enc["width"] = p.get("width", 8)
    if kind == "latency":
        enc["window"] = p.get("window", int(rng.integers(1, 9)))
    if kind == "delta":
        enc["threshold"] = p.get("threshold", int(rng.integers(1, 40)))
    n_inputs = max(n_inputs, S.encoder_fanout(kind, enc.get("fields", S.POP_DEFAULT_FIELDS)))
    max_fanout = p.get("max_fanout", 8)
    cfg_rng = rng if "config_seed" not in p else np.random.default_rng(p["config_seed"])
    cfg = random_config(cfg_rng, n_neurons=neurons, n_inputs=n_inputs, max_fanout=max_fanout)
    # Verilator: empty memories sized for any config of these parameters, one build each
    capacity = 1 << ((neurons + n_inputs) * (max_fanout + 1) - 1).bit_length()
    channels = S.encoder_channels(kind, n_inputs, enc.get("fields", S.POP_DEFAULT_FIELDS))
    values = encoder_values(rng, steps, channels, enc["width"], walk=kind == "delta")
    params = {"encoder": kind, "neurons": neurons, "n_inputs": n_inputs, "channels": channels,
              "max_fanout": max_fanout, "synapses": cfg.n_synapses, **enc}
    return encoded_core_case(cfg, values, kind, syn_capacity=capacity, params=params, **enc)
