"""Golden core: timestep and delay semantics, and agreement with a plain reference loop."""

import numpy as np
import pytest

from neurofab import Network, compile
from neurofab.config import random_config
from neurofab.golden import NeuronCore, run
from neurofab.golden.lif import cuba_lif_step
from neurofab.spec import DELAY_SLOTS


def reference_run(cfg, inputs):
    """Obviously-correct loop-per-synapse model, independent of golden/core.py's vectorisation."""
    n = cfg.n_neurons
    i = v = ref = np.zeros(n, dtype=np.int64)
    queue = {}                       # update step -> {neuron: summed input}
    pending, out = [], []
    params = cfg.neuron_params()
    for t, chans in enumerate(inputs):
        for src in list(pending) + [n + int(c) for c in chans]:
            for k in range(cfg.fanout_ptr[src], cfg.fanout_ptr[src + 1]):
                when = t + int(cfg.syn_delay[k]) - 1
                slot = queue.setdefault(when, {})
                tgt = int(cfg.syn_target[k])
                slot[tgt] = slot.get(tgt, 0) + (int(cfg.syn_weight[k]) << cfg.w_shift)
        acc = np.zeros(n, dtype=np.int64)
        for tgt, val in queue.pop(t, {}).items():
            acc[tgt] = val
        i, v, ref, s = cuba_lif_step(i, v, ref, acc, params)
        pending = np.flatnonzero(s).tolist()
        out.append(pending)
    return out


def random_inputs(rng, n_inputs, steps, density=0.4):
    return [np.flatnonzero(rng.random(n_inputs) < density) for _ in range(steps)]


@pytest.mark.parametrize("seed", range(8))
def test_matches_reference_loop(seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=32, n_inputs=6)
    inputs = random_inputs(rng, 6, 40)
    got = run(cfg, inputs)
    assert [s.tolist() for s in got] == reference_run(cfg, inputs)


def single_synapse_net(delay, weight=5, w_shift=3):
    net = Network(w_shift=w_shift)
    pop = net.population(2, decay_i=4096, threshold=32767)   # memoryless i: i == this step's input
    inp = net.inputs(1)
    net.project(inp, pop, weight=np.array([[weight, 0]]), delay=delay)
    return compile(net)


@pytest.mark.parametrize("delay", range(1, 9))
def test_external_event_counts_in_update_t_plus_d_minus_1(delay):
    cfg = single_synapse_net(delay)
    steps = 12
    inputs = [[0] if t == 2 else [] for t in range(steps)]
    _, states = run(cfg, inputs, trace=True)
    i0 = [int(s.i[0]) for s in states]
    assert i0 == [(5 << 3) if t == 2 + delay - 1 else 0 for t in range(steps)]


@pytest.mark.parametrize("delay", [1, 2, 8])
def test_recurrent_spike_counts_in_update_t_plus_d(delay):
    net = Network()
    driver = net.population(1, bias=10, threshold=10, refractory=15)  # fires at update 0 only
    probe = net.population(1, decay_i=4096, threshold=32767)
    net.project(driver, probe, weight=9, delay=delay)
    cfg = compile(net)
    spikes, states = run(cfg, [[]] * 12, trace=True)
    assert spikes[0].tolist() == [0]
    assert [int(s.i[1]) for s in states] == [9 if t == delay else 0 for t in range(12)]


def test_accumulator_slots_are_indexed_by_absolute_step():
    cfg = single_synapse_net(delay=3)
    core = NeuronCore(cfg)
    core.integrate([0])                       # step 0, delay 3 -> update 2 -> slot 2
    assert core.state.acc[2, 0] == 5 << 3
    assert core.state.acc.sum() == 5 << 3
    for _ in range(DELAY_SLOTS + 1):
        core.update()
        core.integrate([])
    assert core.state.step == DELAY_SLOTS + 1


def test_csr_row_order_does_not_change_results():
    rng = np.random.default_rng(11)
    cfg = random_config(rng, n_neurons=16, n_inputs=4)
    inputs = random_inputs(rng, 4, 30)
    perm_cfg = random_config(11, n_neurons=16, n_inputs=4)   # same draw as cfg
    for s in range(cfg.n_sources):                            # reverse every CSR row
        a, b = cfg.fanout_ptr[s], cfg.fanout_ptr[s + 1]
        for name in ("syn_target", "syn_weight", "syn_delay"):
            getattr(perm_cfg, name)[a:b] = getattr(cfg, name)[a:b][::-1]
    assert [x.tolist() for x in run(cfg, inputs)] == [x.tolist() for x in run(perm_cfg, inputs)]


def test_trace_state_continues_across_runs():
    rng = np.random.default_rng(5)
    cfg = random_config(rng, n_neurons=16, n_inputs=4)
    inputs = random_inputs(rng, 4, 20)
    whole = run(cfg, inputs)
    first, states = run(cfg, inputs[:9], trace=True)
    rest = run(cfg, inputs[9:], state=states[-1])
    assert [x.tolist() for x in whole] == [x.tolist() for x in first + rest]


def test_input_validation():
    cfg = single_synapse_net(1)
    with pytest.raises(ValueError, match=r"inputs\[1\]\[0\] = 1 is outside the limit \[0, 0\]"):
        run(cfg, [[0], [1]])
    with pytest.raises(ValueError, match=r"inputs\[0\] repeats a channel"):
        run(cfg, [[0, 0]])


@pytest.mark.parametrize("third,expect", [
    (False, [(400, 400, 0), (600, 900, 0), (300, 975, 0), (150, 881, 0), (75, 735, 0)]),
    (True, [(400, 400, 0), (600, 900, 0), (700, -100, 1), (350, -100, 0), (175, 100, 0)]),
])
def test_worked_example_of_numerics_md(third, expect):
    net = Network(w_shift=2)
    pop = net.population(1, decay_i=2048, decay_v=1024, threshold=1000, v_reset=-100,
                         refractory=1)
    net.project(net.inputs(1), pop, weight=100)
    cfg = compile(net, n_neurons=2)
    spikes, states = run(cfg, [[0], [0], [0] if third else [], [], []], trace=True)
    assert [(int(s.i[0]), int(s.v[0]), int(s.ref[0])) for s in states] == expect
    assert [x.tolist() for x in spikes] == [[], [], [0] if third else [], [], []]
