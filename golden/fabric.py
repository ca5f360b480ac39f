"""Golden model of the multi-core fabric (``rtl/fabric.py``): K golden cores behind the
golden AER router, stepped exactly as the hardware steps.

Step ``t`` of the fabric is router step ``t``: its inputs are the spikes of every core's
update ``t - 1`` (none at ``t = 0``) and the host's input channels of step ``t``; core ``k``
then integrates the axons the router delivered to it and runs update ``t``. The host port
of the router receives, in router step ``t``, the spikes of update ``t - 1`` as global
neuron numbers. ``run_fabric`` returns the spikes of every update as sorted global neuron
arrays — the same list ``golden.run`` returns for the big core (``tests/golden/
test_fabric.py`` proves it on many random networks).
"""

import numpy as np

from .aer.router import route_step
from .core import NeuronCore

__all__ = ["Fabric", "run_fabric"]


class Fabric:
    """Step-by-step golden fabric.

    Attributes
    ----------
    cores : list of NeuronCore
    pending : list of int64 arrays
        Local spikes of every core's last update (the router inputs of the next step).
    host_out : list of int64 arrays, shape (m, 2)
        Per router step, the ``(source core, global neuron)`` events the host port got.
    router_out : list of lists
        Per router step, per output port, the golden ``(source, address)`` events.
    """

    def __init__(self, fcfg):
        self.fcfg = fcfg.validate()
        self.cores = [NeuronCore(c) for c in fcfg.cores]
        self.pending = [np.zeros(0, np.int64) for _ in fcfg.cores]
        self.host_out = []
        self.router_out = []
        self.unrouted = 0

    @property
    def synaptic_events(self):
        return sum(c.synaptic_events for c in self.cores)

    def states(self):
        return [c.state.copy() for c in self.cores]

    def step(self, channels):
        """One step with the host's input ``channels``; returns the sorted global spikes of
        this step's update."""
        f = self.fcfg
        out, unrouted, _ = route_step(f.table, self.pending + [np.asarray(channels, np.int64)])
        self.unrouted += int(unrouted.sum())
        self.router_out.append(out)
        self.host_out.append(out[f.host])
        spikes = []
        for k, core in enumerate(self.cores):
            local = core.step(out[k][:, 1])
            self.pending[k] = local
            # padding neurons beyond the block are not part of the network
            spikes.append(f.start[k] + local[local < f.start[k + 1] - f.start[k]])
        return np.sort(np.concatenate(spikes)) if spikes else np.zeros(0, np.int64)


def run_fabric(fcfg, inputs, trace=False):
    """Simulate a :class:`~neurofab.partition.FabricConfig` on per-step input channels.

    Returns the list of sorted global fired-neuron arrays, one per step; with
    ``trace=True`` returns ``(spikes, states)`` where ``states[t]`` is the list of every
    core's ``CoreState`` after step ``t``.
    """
    fab = Fabric(fcfg)
    inputs = fcfg.cores[0].check_inputs(inputs) if fcfg.n_inputs else [
        np.zeros(0, np.int64) for _ in inputs]
    for t, chans in enumerate(inputs):
        if chans.size and chans.max() >= fcfg.n_inputs:
            raise ValueError(f"inputs[{t}] has channel {int(chans.max())}, the network has "
                             f"{fcfg.n_inputs} input channels")
    spikes, states = [], []
    for chans in inputs:
        spikes.append(fab.step(chans))
        if trace:
            states.append(fab.states())
    return (spikes, states) if trace else spikes
