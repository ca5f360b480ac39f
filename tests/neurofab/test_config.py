"""CoreConfig validation (field, value and limit in every message), builder and file format."""

import numpy as np
import pytest

from neurofab import CoreConfig, DoesNotFit, Network, compile, spec
from neurofab.config import random_config


def base_cfg(**over):
    kw = dict(n_neurons=4, n_inputs=2, w_shift=0, decay_i=[0], decay_v=[0], threshold=[10],
              bias=[0], v_reset=[0], reset=[0], refractory=[0], profile=[0, 0, 0, 0],
              fanout_ptr=[0, 1, 1, 1, 1, 2, 2], syn_target=[1, 2], syn_weight=[5, -5],
              syn_delay=[1, 8])
    kw.update(over)
    return CoreConfig(**kw)


def test_base_is_valid():
    base_cfg().validate()


@pytest.mark.parametrize("over,message", [
    (dict(n_neurons=6, profile=[0] * 6, fanout_ptr=[0, 1, 1, 1, 1, 1, 1, 2, 2]),
     r"n_neurons = 6 must be a power of two in \[2, 65536\]"),
    (dict(n_neurons=131072), r"n_neurons = 131072 must be a power of two in \[2, 65536\]"),
    (dict(w_shift=8), r"w_shift = 8 is outside the limit \[0, 7\]"),
    (dict(decay_i=[4097]), r"decay_i\[0\] = 4097 is outside the limit \[0, 4096\]"),
    (dict(decay_v=[-1]), r"decay_v\[0\] = -1 is outside the limit \[0, 4096\]"),
    (dict(threshold=[0]), r"threshold\[0\] = 0 is outside the limit \[1, 32767\]"),
    (dict(bias=[40000]), r"bias\[0\] = 40000 is outside the limit \[-32768, 32767\]"),
    (dict(v_reset=[-40000]), r"v_reset\[0\] = -40000 is outside the limit \[-32768, 32767\]"),
    (dict(reset=[2]), r"reset\[0\] = 2 is outside the limit \[0, 1\]"),
    (dict(refractory=[16]), r"refractory\[0\] = 16 is outside the limit \[0, 15\]"),
    (dict(profile=[0, 0, 1, 0]), r"profile\[2\] = 1 is outside the limit \[0, 0\]"),
    (dict(profile=[0, 0]), r"profile has 2 entries, expected n_neurons = 4"),
    (dict(decay_i=[0, 0]), r"decay_i has 2 entries, expected one per profile \(1\)"),
    (dict(syn_target=[1, 4]), r"syn_target\[1\] = 4 is outside the limit \[0, 3\]"),
    (dict(syn_weight=[5, -129]), r"syn_weight\[1\] = -129 is outside the limit \[-128, 127\]"),
    (dict(syn_delay=[0, 1]), r"syn_delay\[0\] = 0 is outside the limit \[1, 8\]"),
    (dict(syn_delay=[1, 9]), r"syn_delay\[1\] = 9 is outside the limit \[1, 8\]"),
    (dict(fanout_ptr=[0, 1, 1]), r"fanout_ptr has 3 entries, expected .* = 7"),
    (dict(fanout_ptr=[1, 1, 1, 1, 1, 2, 2]), r"fanout_ptr\[0\] = 1 must be 0"),
    (dict(fanout_ptr=[0, 2, 1, 1, 1, 2, 2]), r"fanout_ptr\[2\] = 1 is below fanout_ptr\[1\] = 2"),
    (dict(fanout_ptr=[0, 1, 1, 1, 1, 1, 1]), r"fanout_ptr\[-1\] = 1 must equal the number"),
    (dict(syn_weight=[5]), r"syn_weight has 1 entries, expected 2"),
    (dict(decay_i=[0] * 17, decay_v=[0] * 17, threshold=[1] * 17, bias=[0] * 17,
          v_reset=[0] * 17, reset=[0] * 17, refractory=[0] * 17),
     r"profiles = 17 is outside the limit \[1, 16\]"),
])
def test_every_field_is_validated(over, message):
    with pytest.raises(ValueError, match=message):
        base_cfg(**over).validate()


def test_non_integer_fields_are_refused():
    with pytest.raises(ValueError, match="syn_weight must hold integers"):
        base_cfg(syn_weight=[0.5, 1.0])
    with pytest.raises(ValueError, match="n_neurons must be an integer"):
        base_cfg(n_neurons=4.0)


def acc_limit_cfg(extra):
    """Neuron 0 hears 128 synapses of weight -128 << 7 = -2**14 each: -2**21 ... plus extra."""
    per = -spec.WEIGHT_MIN << spec.W_SHIFT_MAX          # 16384 = 2**14
    count = (-spec.ACC_MIN) // per + extra              # 512 fits exactly at the negative rail
    return base_cfg(n_inputs=1, w_shift=spec.W_SHIFT_MAX, fanout_ptr=[0, 0, 0, 0, 0, count],
                    syn_target=[0] * count, syn_weight=[spec.WEIGHT_MIN] * count,
                    syn_delay=[1] * count)


def test_accumulator_bound_is_exact():
    acc_limit_cfg(0).validate()
    with pytest.raises(ValueError, match=r"accumulator of neuron 0 could reach -8404992 .*"
                                         r"outside the limit \[-8388608, 8388607\]"):
        acc_limit_cfg(1).validate()


def test_too_many_synapses_and_fanout():
    n = spec.MAX_FANOUT + 1
    cfg = base_cfg(n_inputs=1, fanout_ptr=[0, 0, 0, 0, 0, n], syn_target=np.arange(n) % 4,
                   syn_weight=np.zeros(n, int), syn_delay=np.ones(n, int))
    with pytest.raises(ValueError, match=r"fan-out of source\[4\] = 65536 is outside the "
                                         r"limit \[0, 65535\]"):
        cfg.validate()


def test_builder_compiles_and_pads_with_a_silent_profile():
    net = Network(w_shift=1)
    exc = net.population(5, threshold=100, bias=3, decay_v=100)
    inh = net.population(1, threshold=50, reset=spec.Reset.SUBTRACT)
    inp = net.inputs(3)
    net.project(inp, exc, weight=np.arange(15).reshape(3, 5) - 7, delay=2)
    net.project(exc, inh, weight=20, delay=np.arange(1, 6).reshape(5, 1))
    net.project(inh, exc, weight=-30, pairs=([0, 0], [1, 3]))
    cfg = compile(net)
    assert cfg.n_neurons == 8 and cfg.n_inputs == 3 and cfg.n_profiles == 2
    assert (cfg.bias[cfg.profile[6:]] <= 0).all()          # padding reuses a bias <= 0 profile
    assert not np.isin(cfg.syn_target, [6, 7]).any()
    assert cfg.fanout_count.tolist() == [1, 1, 1, 1, 1, 2, 0, 0, 5, 4, 5]  # zero weights dropped
    assert sorted(cfg.syn_delay[cfg.fanout_ptr[0]:cfg.fanout_ptr[5]]) == [1, 2, 3, 4, 5]


def test_builder_errors():
    net = Network()
    with pytest.raises(ValueError, match=r"population 0: threshold = 0 is outside the limit \[1, 32767\]"):
        net.population(3, threshold=0)
    pop = net.population(3, threshold=5)
    with pytest.raises(ValueError, match=r"weight\[0\] = 300 is outside the limit \[-128, 127\]"):
        net.project(pop, pop, weight=300)
    with pytest.raises(ValueError, match=r"delay\[0\] = 9 is outside the limit \[1, 8\]"):
        net.project(pop, pop, weight=1, delay=9)
    with pytest.raises(ValueError, match="n_neurons = 2 is below the 3 neurons"):
        compile(net, n_neurons=2)
    with pytest.raises(ValueError, match="network has no neurons"):
        compile(Network())


def _small_net():
    net = Network(w_shift=1)
    exc = net.population(40, threshold=300, bias=20, decay_v=200)
    inp = net.inputs(6)
    net.project(inp, exc, weight=90, p=0.5, seed=3)
    net.project(exc, exc, weight=-20, p=0.2, seed=4, delay=3)
    return net


@pytest.mark.parametrize("name", ["icebreaker", "tang-nano-9k"])
def test_compile_for_a_board_fills_its_core(name):
    from neurofab.boards import get_board
    from neurofab.golden import run
    board = get_board(name)
    net = _small_net()
    cfg = compile(net, target=name)
    assert (cfg.n_neurons, cfg.n_inputs) == (board.n_neurons, board.n_inputs)
    assert cfg.n_synapses == compile(net).n_synapses
    assert compile(net, target=board) == cfg
    # the original neurons spike exactly as on their own core
    inputs = [np.flatnonzero(np.random.default_rng(t).random(6) < 0.5) for t in range(30)]
    mine = run(compile(net), inputs)
    on_board = run(cfg, inputs)
    assert sum(len(s) for s in mine) > 0
    assert all(np.array_equal(a, b) for a, b in zip(mine, on_board))


def test_compile_refuses_what_a_board_cannot_hold():
    from neurofab.boards import get_board
    board = get_board("tang-nano-9k")
    net = Network()
    pop = net.population(board.n_neurons + 44, threshold=10)
    inp = net.inputs(board.n_inputs + 3)
    net.project(inp, pop, weight=1)                   # all to all
    synapses = (board.n_inputs + 3) * (board.n_neurons + 44)
    with pytest.raises(DoesNotFit) as exc:
        compile(net, target="tang-nano-9k")
    msg = str(exc.value)
    assert msg.startswith("network does not fit board tang-nano-9k (GW1NR-9C): ")
    assert f"neurons: {board.n_neurons + 44} needed, {board.n_neurons} available " \
           f"(over by 44)" in msg
    assert f"input channels: {board.n_inputs + 3} needed, {board.n_inputs} available " \
           f"(over by 3)" in msg
    assert f"synapses: {synapses} needed, {board.syn_capacity} available (over by " \
           f"{synapses - board.syn_capacity})" in msg
    assert "profiles" not in msg
    assert isinstance(exc.value, ValueError)
    # 16 distinct profiles fill the table: padding would need a 17th, silent one
    net = Network()
    for k in range(spec.PROFILE_COUNT):
        net.population(1, threshold=k + 1, bias=1)
    with pytest.raises(DoesNotFit, match=r"profiles: 17 needed, 16 available \(over by 1\)"):
        compile(net, target=board)
    with pytest.raises(KeyError, match="known boards: .*icebreaker"):
        compile(net, target="no-such-board")


def test_save_load_round_trip(tmp_path):
    cfg = random_config(3, n_neurons=32, n_inputs=5)
    path = tmp_path / "net.nfcfg"
    cfg.save(path)
    assert CoreConfig.load(path) == cfg


def test_truncated_and_corrupted_files_are_refused(tmp_path):
    blob = random_config(4).to_bytes()
    with pytest.raises(ValueError, match="truncated or padded: header announces"):
        CoreConfig.from_bytes(blob[:-10])
    flipped = bytearray(blob)
    flipped[-5] ^= 0x20
    with pytest.raises(ValueError, match="corrupted: SHA-256"):
        CoreConfig.from_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a neurofab config file"):
        CoreConfig.from_bytes(b"PK\x03\x04" + blob)
    newer = bytearray(blob)
    newer[len(spec.CONFIG_MAGIC)] = spec.CONFIG_VERSION + 1
    with pytest.raises(ValueError, match=f"version {spec.CONFIG_VERSION + 1} is not supported"):
        CoreConfig.from_bytes(bytes(newer))
    path = tmp_path / "cut.nfcfg"
    path.write_bytes(blob[:40])
    with pytest.raises(ValueError, match=str(path)):
        CoreConfig.load(path)


@pytest.mark.parametrize("seed", range(20))
def test_random_configs_are_valid_and_hit_the_corners(seed):
    cfg = random_config(seed, n_neurons=16, n_inputs=4)
    assert set(cfg.syn_delay.tolist()) == set(range(1, 9))
    fan_in = np.bincount(cfg.syn_target, minlength=16)
    assert fan_in.max() >= cfg.n_sources - 1 or cfg.w_shift >= 6
    assert {0, 4096} <= set(cfg.decay_i.tolist())


def test_padded_config_gives_identical_spikes():
    from neurofab import golden
    rng = np.random.default_rng(9)
    cfg = random_config(rng, n_neurons=16, n_inputs=5)
    big = cfg.padded(64, 12)
    assert big.n_neurons == 64 and big.n_inputs == 12
    inputs = [np.flatnonzero(rng.random(5) < 0.5) for _ in range(30)]
    assert [s.tolist() for s in golden.run(cfg, inputs)] == \
        [s.tolist() for s in golden.run(big, inputs)]
    assert cfg.padded(16, 5) is cfg


def test_padding_refusal_names_what_overflows():
    cfg = random_config(2, n_neurons=32, n_inputs=8)
    with pytest.raises(ValueError, match=r"neurons: 32 needed, 16 available \(over by 16\); "
                                         r"input channels: 8 needed, 4 available"):
        cfg.padded(16, 4)
    with pytest.raises(ValueError, match=rf"synapses: {cfg.n_synapses} needed, 10 available"):
        cfg.padded(32, 8, n_synapses=10)


def test_padding_with_every_profile_taken():
    from neurofab import golden
    cfg = random_config(5, n_neurons=16, n_inputs=4)
    full = CoreConfig(**{**{f: getattr(cfg, f) for f in ("n_neurons", "n_inputs", "w_shift",
                                                          "profile", "fanout_ptr", "syn_target",
                                                          "syn_weight", "syn_delay")},
                         **{f: np.resize(getattr(cfg, f), 16) for f in
                            ("decay_i", "decay_v", "threshold", "v_reset", "reset",
                             "refractory")},
                         "bias": np.full(16, 5)}).validate()     # no bias <= 0 profile left
    with pytest.raises(ValueError, match=r"profiles: 17 needed, 16 available \(over by 1\)"):
        full.padded(32, 4)
    some = CoreConfig(**{**full.__dict__, "bias": np.r_[np.full(15, 5), -1]}).validate()
    big = some.padded(32, 4)
    assert big.n_profiles == 16 and (big.profile[16:] == 15).all()
    inputs = [[0, 1], [2], [], [3]] * 5
    assert [x.tolist() for x in golden.run(some, inputs)] == \
        [x.tolist() for x in golden.run(big, inputs)]


# --- memory image ------------------------------------------------------------------------
def _const(layout, word):
    """Fields of ``word`` decoded by Amaranth (an oracle independent of ``spec.unpack``)."""
    from amaranth.lib import data
    c = data.Const(layout, int(word))
    return {name: int(getattr(getattr(c, name), "value", getattr(c, name)))
            for name, _ in layout}


def test_memory_image_words():
    from neurofab.spec import Ctrl, Region
    cfg = random_config(np.random.default_rng(4), n_neurons=8, n_inputs=3)
    image = cfg.memory_image(n_inputs=5, syn_capacity=cfg.n_synapses + 7)
    depths = spec.region_depths(8, 5, cfg.n_synapses + 7)
    assert {r: len(w) for r, w in image.items()} == {r: d for r, d in depths.items() if d} | {
        Region.SYNAPSE: cfg.n_synapses}
    for k, word in enumerate(image[Region.STATE]):
        assert _const(spec.NeuronState, word) == dict(i=0, v=0, ref=0, profile=cfg.profile[k])
    for k, word in enumerate(image[Region.PROFILE]):
        want = ({f: int(getattr(cfg, f)[k]) for f in spec.PROFILE_FIELDS}
                if k < cfg.n_profiles else dict.fromkeys(spec.PROFILE_FIELDS, 0))
        assert _const(spec.Profile, word) == want
    ptr = cfg.fanout_ptr
    for s, word in enumerate(image[Region.ROWPTR]):
        want = (dict(start=ptr[s], count=ptr[s + 1] - ptr[s]) if s < cfg.n_sources
                else dict(start=ptr[-1], count=0))
        assert _const(spec.RowPtr, word) == want
    for k, word in enumerate(image[Region.SYNAPSE]):
        assert _const(spec.Synapse, word) == dict(target=cfg.syn_target[k],
                                                  weight=cfg.syn_weight[k],
                                                  delay=cfg.syn_delay[k] - spec.DELAY_MIN)
    assert not image[Region.ACC].any()
    assert image[Region.CTRL][Ctrl.W_SHIFT.value] == cfg.w_shift
    assert image[Region.CTRL][Ctrl.STEP.value] == 0
    # the upload list is the image, region by region in UPLOAD_ORDER
    from neurofab.config import UPLOAD_ORDER
    words = cfg.upload_words(n_inputs=5)
    assert [r for r, _, _ in words] == [r for r in UPLOAD_ORDER if r in image
                                        for _ in image[r]]
    assert all(type(w) is int and w == image[r][k] for r, k, w in words)
    # clear_acc=False: no ACC words; default n_inputs: 2 rows fewer
    assert len(cfg.upload_words(clear_acc=False)) == len(words) - 8 * spec.DELAY_SLOTS - 2


def test_memory_image_geometry_errors():
    cfg = base_cfg()
    with pytest.raises(ValueError, match="n_neurons = 8 does not match the config's "
                                         "n_neurons = 4"):
        cfg.memory_image(n_neurons=8)
    with pytest.raises(ValueError, match="n_inputs = 1 is below cfg.n_inputs = 2"):
        cfg.memory_image(n_inputs=1)
    with pytest.raises(ValueError, match="syn_capacity = 1 is below the config's 2 synapses"):
        cfg.memory_image(syn_capacity=1)


def test_decode_state_round_trip():
    from neurofab.config import decode_state, state_addresses
    from neurofab.spec import Ctrl, Region
    rng = np.random.default_rng(2)
    n = 8
    i, v = rng.integers(spec.STATE_MIN, spec.STATE_MAX + 1, (2, n))
    ref, prof = rng.integers(0, 16, (2, n))
    acc = rng.integers(spec.ACC_MIN, spec.ACC_MAX + 1, (spec.DELAY_SLOTS, n))
    acc[0, 0], acc[1, 0] = spec.ACC_MIN, spec.ACC_MAX
    state = spec.pack(spec.NeuronState, i=i, v=v, ref=ref, profile=prof)
    acc_words = (acc.T.reshape(-1) & ((1 << spec.ACC_WIDTH) - 1)).tolist()
    # bits above each word's width (as a memory port might return them) are ignored
    words = ([int(w) | (1 << 45) for w in state] + [w | (1 << 30) for w in acc_words]
             + [(1 << 40) | 12345])
    addresses = state_addresses(n)
    assert len(addresses) == len(words)
    assert addresses[0] == (Region.STATE, 0) and addresses[-1] == (Region.CTRL, Ctrl.STEP.value)
    assert addresses[n + 9] == (Region.ACC, 9)
    got = decode_state(words, n)
    for name, want in dict(i=i, v=v, ref=ref, profile=prof, acc=acc).items():
        assert np.array_equal(got[name], want), name
    assert got["acc"].shape == (spec.DELAY_SLOTS, n) and got["step"] == 12345
    with pytest.raises(ValueError, match="72 state words, expected 73 for n_neurons = 8"):
        decode_state(words[:-1], n)


def test_config_file_records_its_kernel():
    import hashlib
    import io
    import struct
    cfg = random_config(3, n_neurons=8, n_inputs=2)
    blob = cfg.to_bytes()
    assert CoreConfig.from_bytes(blob, kernel="cuba-lif") == cfg
    with pytest.raises(ValueError, match="the config is for kernel cuba-lif, not izhikevich"):
        CoreConfig.from_bytes(blob, kernel="izhikevich")
    # a version-1 file (written before kernels) holds a CUBA-LIF config
    buf = io.BytesIO()
    np.savez(buf, **{f: np.asarray(getattr(cfg, f), dtype=np.int64)
                     for f in ("n_neurons", "n_inputs", "w_shift") + cfg.array_fields})
    payload = buf.getvalue()
    old = (spec.CONFIG_MAGIC + struct.pack("<HQ", 1, len(payload)) +
           hashlib.sha256(payload).digest() + payload)
    assert CoreConfig.from_bytes(old) == cfg
    # a file naming an unknown kernel is refused by name
    buf = io.BytesIO()
    np.savez(buf, kernel=np.asarray("hodgkin-huxley"),
             **{f: np.asarray(getattr(cfg, f), dtype=np.int64)
                for f in ("n_neurons", "n_inputs", "w_shift") + cfg.array_fields})
    payload = buf.getvalue()
    bad = (spec.CONFIG_MAGIC + struct.pack("<HQ", spec.CONFIG_VERSION, len(payload)) +
           hashlib.sha256(payload).digest() + payload)
    with pytest.raises(ValueError, match="kernel 'hodgkin-huxley' is not a neuron kernel"):
        CoreConfig.from_bytes(bad)


def test_config_refuses_parameters_of_another_kernel():
    cfg = random_config(4, n_neurons=4, n_inputs=1)
    kw = {f: getattr(cfg, f) for f in ("n_neurons", "n_inputs", "w_shift") + cfg.array_fields}
    with pytest.raises(ValueError, match="'tau' is not a parameter of kernel cuba-lif"):
        CoreConfig(**kw, tau=[1])
    del kw["bias"]
    with pytest.raises(ValueError, match="parameter 'bias' of kernel cuba-lif is missing"):
        CoreConfig(**kw)
    with pytest.raises(ValueError, match="kernel = 'lif' is not a neuron kernel"):
        CoreConfig(**kw, bias=[0], kernel="lif")


def test_population_model_must_be_a_float_model():
    with pytest.raises(TypeError, match=r"population 0: model must be a float model of "
                                        r"neurofab.models .*not 'izhikevich'"):
        Network().population(3, model="izhikevich", dt=1.0)


def test_check_inputs_names_steps_from_first():
    cfg = random_config(3, n_neurons=8, n_inputs=4)
    assert [c.tolist() for c in cfg.check_inputs([[1], [3, 0]], first=7)] == [[1], [3, 0]]
    with pytest.raises(ValueError, match=r"^inputs\[8\]\[1\] = 4 is outside the limit "
                                         r"\[0, 3\]$"):
        cfg.check_inputs([[1], [0, 4]], first=7)
    with pytest.raises(ValueError, match=r"^inputs\[5\] repeats a channel"):
        cfg.check_inputs([[2, 2]], first=5)
    with pytest.raises(TypeError, match=r"^inputs\[2\] must hold integer channel indices"):
        cfg.check_inputs([[0.5]], first=2)
    for bad, exc in ((-1, ValueError), (1.0, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="^first "):
            cfg.check_inputs([[1]], first=bad)
