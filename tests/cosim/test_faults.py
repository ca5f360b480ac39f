# amaranth: UnusedElaboratable=no
"""Single-event upsets: the golden core over stored memories (``neurofab.faults.UpsetCore``),
the Verilator fault player (``cosim/faults.py``, ``cosim/fault_player.cpp``) and a short
slice of the campaign (``neurofab faults``).

Memory upsets injected into the Verilator model at a step boundary are mirrored in the
golden model and compared bit for bit (spikes and full state after every step); a mirror
of a different bit is caught, which shows the comparison sees the injection. Flip-flop
upsets are checked to take effect. One fault build of a small core serves every test
(about 20 s cold, cached across sessions).
"""

import json

import numpy as np
import pytest

from neurofab import spec
from neurofab.config import random_config
from neurofab.cosim.core import random_inputs
from neurofab.cosim.faults import CORE_TRIGGER, Upset, fault_build, play_upsets
from neurofab.faults import (MEMORIES, TARGETS, Campaign, Geometry, UpsetCore, Workload,
                             campaign, deviation, draw_upsets, figure, markdown, mirror,
                             register_group, run_trial, upset_case, write_docs)
from neurofab.golden import core as golden_core
from neurofab.kernels import DEFAULT_KERNEL, get_kernel

GEO = Geometry(neurons=16, inputs=4, syn_capacity=256)
STEPS = 24


@pytest.fixture(scope="module")
def fbuild():
    return fault_build(GEO.core(), name="neurofab_core")


@pytest.fixture(scope="module")
def work():
    return Workload.make(GEO, STEPS, seed=1)


# --- the golden twin over stored memories ---------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kernel", ["cuba-lif", "alif"])
def test_upset_core_without_upsets_is_golden(seed, kernel):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, n_neurons=16, n_inputs=6, max_fanout=12, kernel=kernel)
    cap = 1 << max(0, (cfg.n_synapses - 1).bit_length())
    inputs = random_inputs(rng, 6, 30, per_step=3)
    core = UpsetCore(cfg, syn_capacity=cap, n_inputs=8)
    spikes, states = golden_core.run(cfg, inputs, trace=True)
    for t, chans in enumerate(inputs):
        assert np.array_equal(core.step(chans), spikes[t])
        snap = core.snapshot()
        for f in cfg.kernel.state_fields:
            assert np.array_equal(snap[f], states[t].neurons[f]), (t, f)
        assert np.array_equal(snap["acc"], states[t].acc)


def test_flip_twice_restores_and_fields_move():
    cfg = random_config(3, n_neurons=16, n_inputs=4, max_fanout=8)
    core = UpsetCore(cfg, syn_capacity=512)
    for t in range(5):
        core.step([0, 2])
    before = (core.snapshot(), {k: v.copy() for k, v in core.params.items()},
              core.row_start.copy(), core.row_count.copy(),
              {k: v.copy() for k, v in core.syn.items()})
    rng = np.random.default_rng(0)
    for memory, (width, depth) in core.layouts().items():
        for _ in range(20):
            k, b = int(rng.integers(depth)), int(rng.integers(width))
            core.flip(memory, k, b)
            core.flip(memory, k, b)
    after = (core.snapshot(), core.params, core.row_start, core.row_count, core.syn)
    for x, y in zip(before[0].values(), after[0].values()):
        assert np.array_equal(x, y)
    for x, y in zip(before[1:], after[1:]):
        if isinstance(x, dict):
            assert all(np.array_equal(x[f], y[f]) for f in x)
        else:
            assert np.array_equal(x, y)
    # the fields each bit lands in (layouts of rtl/core.py's memories)
    core.flip("acc", 5 * spec.DELAY_SLOTS + 3, spec.ACC_WIDTH - 1)     # neuron 5, slot 3
    assert core.acc[3, 5] == before[0]["acc"][3, 5] - (1 << (spec.ACC_WIDTH - 1)) * (
        1 if before[0]["acc"][3, 5] >= 0 else -1)
    core.flip("synapse", 7, spec.Synapse["weight"].offset)
    assert abs(core.syn["weight"][7] - before[4]["weight"][7]) == 1
    count_bit = spec.row_storage(512)["count"].offset
    core.flip("rowptr", 2, count_bit)
    assert abs(core.row_count[2] - before[3][2]) == 1
    core.flip("state", 4, cfg.kernel.state_word["profile"].offset + 3)
    assert abs(core.profile[4] - before[0]["profile"][4]) == 8
    with pytest.raises(ValueError, match="state bit"):
        core.flip("state", 0, cfg.kernel.state_word.size)
    with pytest.raises(ValueError, match="memory = 'spikes'"):
        core.flip("spikes", 0, 0)


def test_upset_core_refuses():
    cfg = random_config(0, n_neurons=16, n_inputs=4)
    with pytest.raises(ValueError, match="syn_capacity"):
        UpsetCore(cfg, syn_capacity=3 * 256)
    with pytest.raises(ValueError, match="below the config"):
        UpsetCore(cfg, syn_capacity=1)


def test_deviation_and_draw():
    ref = [np.array([1, 2]), np.array([], int), np.array([3])]
    assert deviation(ref, ref)["raster_error"] == 0
    d = deviation(ref, [np.array([1]), np.array([4])])          # hung after two steps
    assert d == {"raster_error": 1.0, "rate_change": -1 / 3, "deviated": True,
                 "first_step": 0}
    layouts = {"state": (40, 16), "acc": (24, 128), "synapse": (27, 256), "rowptr": (18, 20),
               "profile": (79, 16)}
    rng = np.random.default_rng(0)
    for target in MEMORIES:
        ups = draw_upsets(rng, target, count=50, steps=10, layouts=layouts)
        width, depth = layouts[target]
        assert len(ups) == 50 and all(u.var == MEMORIES[target] and u.offset == 0 and
                                      0 <= u.index < depth and 0 <= u.bit < width and
                                      0 <= u.event < 10 for u in ups)
    with pytest.raises(ValueError, match="registers"):
        draw_upsets(rng, "registers", count=1, steps=10, layouts=layouts)
    assert register_group("kernel.s2_q_i") == "kernel"
    assert register_group("s4_old") == "integrate"
    assert register_group("core_fsm_state") == "control"
    assert register_group("spike_fifo.entry_3") == "output FIFO"


# --- the fault player ------------------------------------------------------------------
def test_fault_build_knows_the_design(fbuild):
    assert fbuild.memories["state_mem"] == (get_kernel(DEFAULT_KERNEL).state_word.size,
                                            GEO.neurons)
    assert fbuild.memories["acc_mem"] == (spec.ACC_WIDTH, GEO.neurons * spec.DELAY_SLOTS)
    assert fbuild.memories["syn_mem"] == (spec.Synapse.size, GEO.syn_capacity)
    assert fbuild.memories["row_mem"] == (spec.row_storage(GEO.syn_capacity).size,
                                          GEO.neurons + GEO.inputs)
    for reg in ("step", "s4_old", "u2_state", "w_left", "kernel.s2_q_i", "core_fsm_state"):
        assert reg in fbuild.registers
    assert all(name in fbuild.variables for name in CORE_TRIGGER)


@pytest.mark.parametrize("target", list(MEMORIES))
def test_memory_upsets_mirrored_bit_exact(fbuild, work, target):
    rng = np.random.default_rng(list(MEMORIES).index(target))
    layouts = UpsetCore(work.cfg, syn_capacity=GEO.syn_capacity,
                        n_inputs=GEO.inputs).layouts()
    deviated = 0
    for _ in range(3):
        ups = draw_upsets(rng, target, count=4, steps=STEPS, layouts=layouts)
        tr = run_trial(work, GEO, target, ups, fbuild=fbuild, check_state="every")
        assert [i.upset for i in tr.injected] == ups
        assert tr.mirror_exact, tr.first_divergence
        deviated += tr.dev["deviated"]
    # the golden back end gives the same spikes
    gold = run_trial(work, GEO, target, ups)
    assert gold.mirror_exact is None and gold.dev == tr.dev


def test_mirror_of_another_bit_is_caught(fbuild, work, tmp_path):
    """The comparison sees the injection: the RTL gets one bit, the mirror another."""
    injected = Upset(3, 0, "acc_mem", 5 * spec.DELAY_SLOTS + 4, 20)
    mirrored = Upset(3, 0, "acc_mem", 5 * spec.DELAY_SLOTS + 4, 19)
    spikes, snaps, walked, _ = mirror(work, GEO, [mirrored])
    case = upset_case(work, GEO, spikes, snaps, walked, check_state="every")
    plan = case.plan("verilator", gap=0.0, stall=0.0, seed=0)
    res, log = play_upsets(fbuild, plan.script, [injected], workdir=tmp_path)
    assert [i.upset for i in log] == [injected]
    verdict = case.compare(plan, res)
    first = verdict.divergences[0]
    assert (first.step, first.where, first.field) == (3, "neuron 5", "acc[slot 4]")
    assert first.got - first.expected == (1 << 20) - (1 << 19)


def test_register_upsets_take_effect(fbuild, work):
    base = run_trial(work, GEO, "registers", [], fbuild=fbuild)
    assert base.dev["raster_error"] == 0 and not base.hung and len(base.step_cycles) == STEPS
    # the step counter picks the accumulator slot: one flip misaligns every delay after it
    tr = run_trial(work, GEO, "registers", [Upset(4, 2, "step", -1, 1)], fbuild=fbuild)
    assert tr.dev["deviated"] and len(tr.injected) == 1
    assert tr.injected[0].old == 4                    # step 4 holds STEP = 4
    # an upset past the end of the run is never injected
    tr = run_trial(work, GEO, "registers", [Upset(STEPS + 3, 0, "step", -1, 0)],
                   fbuild=fbuild)
    assert tr.injected == [] and tr.dev["raster_error"] == 0


def test_bad_upsets_refused(fbuild, work, tmp_path):
    script = upset_case(work, GEO, work.reference, [None] * STEPS, [0] * STEPS).plan(
        "verilator", gap=0.0, stall=0.0, seed=0).script
    for bad, match in ((Upset(0, 0, "nope", -1, 0), "not a signal or memory"),
                       (Upset(0, 0, "state_mem", GEO.neurons, 0), "outside the limit"),
                       (Upset(0, 0, "step", 0, 0), "must be -1"),
                       (Upset(0, 0, "step", -1, 32), "bit = 32"),
                       (Upset(-1, 0, "step", -1, 0), "must be >= 0")):
        with pytest.raises(ValueError, match=match):
            play_upsets(fbuild, script, [bad], workdir=tmp_path)


def test_campaign_slice(fbuild, tmp_path):
    res = campaign(geometry=GEO, steps=16, networks=1, single=2, bers=(1e-4,), trials=1)
    assert {r["target"] for r in res.sensitivity} >= set(TARGETS)
    assert res.mirror["runs"] == res.mirror["exact"] == 5 * 3
    assert res.mirror["baseline_exact"] == [True]
    table = markdown(res)
    assert "| rowptr |" in table and "BER 1e-04" in table
    again = Campaign.from_summary(json.loads(json.dumps(res.summary())))
    assert markdown(again) == table
    assert figure(again, tmp_path / "faults.png").stat().st_size > 10000
    doc = tmp_path / "reliability.md"
    doc.write_text("head\n<!-- faults -->\nold\n<!-- /faults -->\ntail\n")
    write_docs(res, doc)
    assert doc.read_text() == f"head\n<!-- faults -->\n{table}\n<!-- /faults -->\ntail\n"
    gold = campaign(geometry=GEO, steps=16, networks=1, single=2, bers=(1e-4,), trials=1,
                    targets=MEMORIES, backend="golden")
    assert gold.mirror["runs"] == 0 and len(gold.ber) == len(MEMORIES)
    with pytest.raises(ValueError, match="golden back end has no flip-flops"):
        campaign(geometry=GEO, targets=("registers",), backend="golden")


# --- parity on the configuration memories ----------------------------------------------
PARITY = ("synapse", "rowptr", "profile")
PGEO = Geometry(neurons=16, inputs=4, syn_capacity=256, parity=PARITY)


def test_parity_option_refused():
    from neurofab.config import random_learning
    from neurofab.rtl.core import NeuronCore
    with pytest.raises(ValueError, match="'acc' is not one of synapse, rowptr, profile"):
        NeuronCore(None, n_neurons=16, syn_capacity=64, parity=("acc",))
    with pytest.raises(ValueError, match="without learning"):
        NeuronCore(random_learning(0, random_config(0, n_neurons=16, n_inputs=4)),
                   parity="synapse")
    with pytest.raises(ValueError, match="'state' is not one of"):
        UpsetCore(random_config(0, n_neurons=16, n_inputs=4), syn_capacity=512,
                  parity="state")


def test_upset_core_parity_bit():
    cfg = random_config(5, n_neurons=16, n_inputs=4, max_fanout=8)
    core = UpsetCore(cfg, syn_capacity=512, parity=PARITY)
    plain = UpsetCore(cfg, syn_capacity=512)
    assert core.layouts()["synapse"][0] == plain.layouts()["synapse"][0] + 1
    top = core.layouts()["profile"][0] - 1
    assert core.field_of("profile", 0, top) == "parity bit"
    core.flip("profile", int(cfg.profile[0]), top)       # a used profile's parity bit
    for t in range(4):
        assert np.array_equal(core.step([1]), plain.step([1]))
    # read by every neuron of that profile at every update, and nothing else changed
    assert core.parity_errors == 4 * int((cfg.profile == cfg.profile[0]).sum())
    core.flip("profile", int(cfg.profile[0]), top)
    before = core.parity_errors
    core.step([])
    assert core.parity_errors == before


def test_parity_core_is_bit_exact_without_upsets():
    from neurofab.cosim.core import run_core_cosim
    from neurofab.rtl.core import NeuronCore
    rng = np.random.default_rng(7)
    cfg = random_config(rng, n_neurons=16, n_inputs=6, max_fanout=12)
    inputs = random_inputs(rng, 6, 10, per_step=3)
    for backend in ("amaranth", "verilator"):
        res = run_core_cosim(cfg, inputs, backend=backend, vcd_path=False,
                             core_factory=lambda c, **kw: NeuronCore(c, parity=PARITY, **kw))
        assert res.bit_exact, res.report()


@pytest.fixture(scope="module")
def pbuild():
    return fault_build(PGEO.core(), name="neurofab_core")


@pytest.mark.parametrize("target", PARITY)
def test_parity_counts_upsets_as_the_mirror_does(pbuild, target):
    """Every single upset of a protected memory that changes the spike train is
    detected; the counter equals the golden mirror's (compared after every step)."""
    w = Workload.make(PGEO, STEPS, seed=2)
    layouts = PGEO.upset_core(w.cfg).layouts()
    rng = np.random.default_rng(PARITY.index(target) + 10)
    detected = 0
    for _ in range(6):
        ups = draw_upsets(rng, target, count=1, steps=STEPS // 2, layouts=layouts)
        tr = run_trial(w, PGEO, target, ups, fbuild=pbuild, check_state="every")
        assert tr.mirror_exact, tr.first_divergence
        assert tr.parity_errors is not None
        assert not (tr.dev["deviated"] and tr.parity_errors == 0)
        detected += tr.parity_errors > 0
    # and a parity bit upset of a word in use: counted, spikes unchanged
    used = {"synapse": 0, "rowptr": GEO.neurons, "profile": int(w.cfg.profile[0])}[target]
    tr = run_trial(w, PGEO, target, [Upset(1, 0, MEMORIES[target], used,
                                           layouts[target][0] - 1)],
                   fbuild=pbuild, check_state="every")
    assert tr.mirror_exact and tr.parity_errors > 0 and not tr.dev["deviated"]


def test_cli_faults_quick(fbuild, pbuild, capsys, tmp_path):
    from neurofab.cli import main
    png = tmp_path / "f.png"
    assert main(["faults", "--quick", "--json", "--out", str(png)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["mirror"]["runs"] == out["mirror"]["exact"] > 0
    assert {r["target"] for r in out["sensitivity"]} >= set(TARGETS) and png.exists()
    assert main(["faults", "--quick", "--parity", "--json", "--out", str(png)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert all(r["p_silent"] == 0 for r in out["sensitivity"])
    assert main(["faults", "--single", "-1", "--json"]) == 2
    assert "--single -1 must be at least 0" in capsys.readouterr().err


def test_builds_markdown():
    from neurofab.faults import builds_markdown
    res = {"lut": [100, 5280], "bram": [30, 30]}
    rows = [{"board": "icebreaker", "device": "iCE40UP5K", "protected": ["synapse", "profile"],
             "plain": {"fmax_mhz": 28.6, "target_mhz": 27.0, "resources": res},
             "parity": {"fmax_mhz": 28.1, "target_mhz": 27.0,
                        "resources": {**res, "lut": [120, 5280]}}}]
    table = builds_markdown(rows).splitlines()
    assert table[0] == "| board | device | parity on | build | fmax MHz (target) | lut | bram |"
    assert table[2] == ("| icebreaker | iCE40UP5K | — | plain | 28.6 (27.0) | 100 / 5280 | "
                        "30 / 30 |")
    assert table[3].startswith("| icebreaker | iCE40UP5K | synapse, profile | parity | 28.1")
    rows[0]["parity"].update(timing_met=False, board_mhz=27.0, target_mhz=26.0)
    assert "| 28.1 (26.0; misses the board's 27.0) |" in builds_markdown(rows)
    rows[0]["parity"] = {"placed": False, "detail": "no legal placement", "board_mhz": 30.0}
    assert builds_markdown(rows).splitlines()[3] == (
        "| icebreaker | iCE40UP5K | synapse, profile | parity | no legal placement (30.0) "
        "|  |  |")


def test_a_build_without_placement_is_a_row_not_a_traceback(monkeypatch, tmp_path):
    import neurofab.boards.build as build_module
    from neurofab import faults
    from neurofab.boards.build import PlacementError

    calls = []

    def build(board, factory, *, out_dir, f_core=None):
        calls.append(factory)
        if len(calls) == 2:
            raise PlacementError("no legal placement with any placer seed tried")
        return _Report()

    class _Res:
        used, available = 10, 20

    class _Report:
        fmax, f_target, cached = 31e6, 30e6, False
        resources = {"lut": _Res()}
    monkeypatch.setattr(build_module, "build", build)
    rows = faults.parity_board_builds(("icebreaker",), out_dir=str(tmp_path))
    assert rows[0]["plain"]["fmax_mhz"] == 31.0
    assert rows[0]["parity"]["placed"] is False
    assert "no legal placement (30.0)" in faults.builds_markdown(rows)
