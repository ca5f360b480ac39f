"""The strongest check of the fabric: a network partitioned over K cores (golden fabric)
spikes exactly like the same network on one big core (golden core), at every step, on
many random networks — and every core's state is the big core's state, sliced."""

import numpy as np
import pytest

from neurofab import golden, spec
from neurofab.config import Network, compile, random_config
from neurofab.cosim.core import random_inputs
from neurofab.golden.fabric import Fabric, run_fabric
from neurofab.partition import FabricConfig, compile_fabric


def _check_equal(big, fab, inputs):
    gs, gstates = golden.run(big, inputs, trace=True)
    fs, fstates = run_fabric(fab, inputs, trace=True)
    assert len(gs) == len(fs)
    for t, (a, b) in enumerate(zip(gs, fs)):
        assert np.array_equal(a, b), f"step {t}: big core {a.tolist()}, fabric {b.tolist()}"
        for k, st in enumerate(fstates[t]):
            lo, hi = fab.start[k], fab.start[k + 1]
            n = hi - lo
            for name in ("i", "v", "ref"):
                assert np.array_equal(getattr(st, name)[:n], getattr(gstates[t], name)[lo:hi])
            assert np.array_equal(st.acc[:, :n], gstates[t].acc[:, lo:hi]), (t, k)
            assert not st.acc[:, n:].any()          # padding neurons hear nothing
            assert st.step == gstates[t].step
    return sum(len(s) for s in gs)


@pytest.mark.parametrize("cores", [2, 4])
@pytest.mark.parametrize("seed", range(12))
def test_fabric_equals_big_core_random(cores, seed):
    rng = np.random.default_rng(seed)
    n = [8, 16, 32, 64][seed % 4]
    big = random_config(rng, n_neurons=n, n_inputs=int(rng.integers(1, 12)),
                        max_fanout=int(rng.integers(1, 3 * n)))
    inputs = random_inputs(rng, big.n_inputs, 40, per_step=3)
    fab = compile_fabric(big, cores=cores)
    assert fab.n_cores == cores and fab.ports == cores + 1
    _check_equal(big, fab, inputs)


def test_full_profile_table_pads_with_a_sink_entry():
    # 16 profiles, none silent: padding neurons reuse profile 0 and may even fire; their
    # spikes end in a sink entry of the table, never on another core or the host
    rng = np.random.default_rng(11)
    big = random_config(rng, n_neurons=32, n_inputs=4, max_fanout=20)
    while big.n_profiles < 16:
        big = random_config(rng, n_neurons=32, n_inputs=4, max_fanout=20)
    big.bias[:] = np.maximum(big.bias, 200)
    big.threshold[:] = np.minimum(big.threshold, 500)
    fab = compile_fabric(big, cores=3)
    assert (fab.table.mask == 0).any()
    _check_equal(big, fab, random_inputs(rng, 4, 20))
    g = Fabric(fab)
    for c in random_inputs(rng, 4, 10):
        g.step(c)
    assert g.unrouted == 0


@pytest.mark.parametrize("cores", [3, 5, 7])
def test_uneven_blocks_pad_with_silent_neurons(cores):
    rng = np.random.default_rng(cores)
    big = random_config(rng, n_neurons=32, n_inputs=6, max_fanout=20)
    fab = compile_fabric(big, cores=cores)
    assert fab.start[-1] == 32 and len(set(np.diff(fab.start[:-1]))) <= 1
    _check_equal(big, fab, random_inputs(rng, 6, 30))


def test_busy_recurrent_network_spikes_and_matches():
    # strong recurrent excitation and every delay: plenty of spikes crossing cores
    net = Network(w_shift=3)
    exc = net.population(48, threshold=300, decay_v=400, decay_i=1500, refractory=1)
    inh = net.population(16, threshold=200, decay_v=300, reset=spec.Reset.SUBTRACT)
    inp = net.inputs(10)
    net.project(inp, exc, weight=40, p=0.4, seed=1, delay=np.random.default_rng(0)
                .integers(1, 9, (10, 48)))
    net.project(exc, exc, weight=12, p=0.2, seed=2,
                delay=np.random.default_rng(1).integers(1, 9, (48, 48)))
    net.project(exc, inh, weight=30, p=0.3, seed=3, delay=2)
    net.project(inh, exc, weight=-60, p=0.3, seed=4, delay=1)
    inputs = random_inputs(7, 10, 60, per_step=4)
    for cores in (2, 4):
        fab = compile_fabric(net, cores=cores)
        assert _check_equal(compile(net), fab, inputs) > 200


def test_delay_timing_across_the_router():
    # neuron 0 (core 0) drives neuron 3 (core 1) with delay d: the effect lands in
    # update t + d exactly as on one core
    for d in range(1, 9):
        net = Network()
        a = net.population(2, threshold=1, decay_i=4096, decay_v=4096)
        b = net.population(2, threshold=100, decay_i=4096, decay_v=4096)
        inp = net.inputs(1)
        net.project(inp, a, weight=1, pairs=([0], [0]))
        net.project(a, b, weight=127, pairs=([0], [1]), delay=d)
        big = compile(net)
        fab = compile_fabric(big, cores=2)
        inputs = [[0]] + [[]] * 12
        gs = golden.run(big, inputs)
        assert [t for t, s in enumerate(gs) if 3 in s] == [d]
        assert all(np.array_equal(x, y) for x, y in zip(gs, run_fabric(fab, inputs)))


def test_routing_table_of_a_partition():
    big = random_config(3, n_neurons=16, n_inputs=4, max_fanout=8)
    fab = compile_fabric(big, cores=2)
    t = fab.table
    host = fab.host
    # one entry per core (to the host and to the listening cores), one for the host
    assert t.src.tolist() == [0, 1, host]
    assert (t.mask[:2] >> host & 1).all() and not t.mask[2] >> host & 1
    assert t.offset.tolist() == [0, 8, 16]
    for c in fab.cores:
        assert c.n_inputs == 16 + 4 and c.fanout_count[:c.n_neurons].sum() == 0
    assert sum(c.n_synapses for c in fab.cores) == big.n_synapses


def test_host_port_sees_the_previous_update_as_global_ids():
    big = random_config(4, n_neurons=16, n_inputs=4, max_fanout=10)
    fab = compile_fabric(big, cores=4)
    inputs = random_inputs(4, 4, 20)
    g = Fabric(fab)
    spikes = [g.step(c) for c in inputs]
    assert g.host_out[0].size == 0
    for t in range(1, 20):
        assert sorted(g.host_out[t][:, 1].tolist()) == spikes[t - 1].tolist()


@pytest.mark.parametrize("args, exc, msg", [
    ((None, 2), TypeError, "Network or a CoreConfig"),
    (("cfg", 0), ValueError, "cores = 0"),
    (("cfg", 16), ValueError, "cores = 16"),
    (("cfg", 2.0), TypeError, "cores must be an integer"),
])
def test_compile_fabric_errors(args, exc, msg):
    big = random_config(1, n_neurons=8, n_inputs=2)
    a = big if args[0] == "cfg" else args[0]
    with pytest.raises(exc, match=msg):
        compile_fabric(a, cores=args[1])
    with pytest.raises(ValueError, match="below the block"):
        compile_fabric(big, cores=2, n_neurons=2)


def test_fabric_config_validation():
    fab = compile_fabric(random_config(1, n_neurons=8, n_inputs=2), cores=2)
    bad = FabricConfig(fab.cores, fab.table, fab.start, fab.n_neurons, fab.n_inputs + 1)
    with pytest.raises(ValueError, match="core 0: n_inputs"):
        bad.validate()
