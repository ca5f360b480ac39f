"""The cosim engine (``neurofab.cosim.engine``): results, reports and waveforms; failing
when it must — perturbed golden outputs and state, a wrong RTL instance and a hung block are
reported as not bit-exact with the right first divergence and a waveform; bad arguments are
refused naming the value. The core's own failure cases are in ``test_core.py``."""

import json

import pytest

from neurofab.cli import main
from neurofab.cosim import engine as E
from neurofab.cosim.engine import run
from neurofab.cosim.registry import BLOCKS, builder, cosim_block, make_case

SUMMARY_KEYS = {"bit_exact", "backend", "block", "steps", "input_events", "synaptic_events",
                "output_spikes", "cycles", "cycles_per_step", "wall_s", "first_divergence",
                "vcd", "sim_cycles", "cycles_per_s", "params"}


def _check_failure(res, vcd, where, step, field=None):
    assert not res.bit_exact
    d = res.first_divergence
    assert (d.step, d.where) == (step, where), str(d)
    if field is not None:
        assert d.field == field, str(d)
    assert res.vcd == str(vcd) and vcd.exists()
    assert "$enddefinitions" in vcd.read_text()
    report = res.report()
    assert "NOT bit-exact" in report and str(vcd) in report
    s = res.summary()
    assert s["bit_exact"] is False and s["first_divergence"]["step"] == step
    assert json.loads(json.dumps(s)) == s


def test_broken_output_expectation(tmp_path):
    case = make_case("sc-tanh", 4, 6, dict(lanes=6, states=8))
    case.steps[3].gets["o_bits"][5] ^= 1 << 2
    vcd = tmp_path / "tanh.vcd"
    res = run(case, seed=4, vcd_path=vcd)
    _check_failure(res, vcd, "o_bits[5]", 3, "lane 2")
    assert "o_bits" in vcd.read_text()


def test_broken_state_expectation(tmp_path):
    case = make_case("delta", 5, 6, dict(channels=4))
    case.steps[2].state["prev[1]"] ^= 1
    vcd = tmp_path / "delta.vcd"
    res = run(case, seed=5, vcd_path=vcd)
    _check_failure(res, vcd, "state", 2, "prev[1]")
    assert res.first_divergence.got == case.steps[2].state["prev[1]"] ^ 1


def test_broken_event_expectation(tmp_path):
    case = make_case("rate", 6, 5, dict(channels=6, width=8))
    events = case.steps[1].gets["o_event"]
    events.insert(len(events) - 1, events[-1] ^ 0)   # a second end-of-step marker
    vcd = tmp_path / "rate.vcd"
    res = run(case, seed=6, vcd_path=vcd)
    # the missing transaction is named by what was expected: an end-of-step marker
    _check_failure(res, vcd, f"o_event[{len(events) - 1}]", 1, "eos")
    assert (res.first_divergence.expected, res.first_divergence.got) == ("end-of-step",
                                                                         "nothing")


def test_wrong_rtl_instance(tmp_path):
    from neurofab.rtl.encoders import Lfsr
    case = make_case("lfsr", 7, 4, dict(width=16, seed=0x1234, leap=1, poly=None))
    case.factory = lambda: Lfsr(16, 0x1235)
    vcd = tmp_path / "lfsr.vcd"
    res = run(case, vcd_path=vcd)
    _check_failure(res, vcd, "o_data[0]", 0, "value")
    assert (res.first_divergence.expected, res.first_divergence.got) == (0x1234, 0x1235)


def test_hung_block_is_reported(tmp_path):
    from neurofab.rtl.encoders import LatencyEncoder
    case = make_case("latency", 8, 3, dict(channels=3, width=8, window=4))
    case.factory = lambda: LatencyEncoder(4, 8, window=4)    # waits for a 4th value
    vcd = tmp_path / "hung.vcd"
    res = run(case, vcd_path=vcd, gap=0.0, stall=0.0)
    assert not res.bit_exact
    d = res.first_divergence
    assert d.step == 0 and "hung" in str(d.got)


def test_encoded_core_broken_core_state(tmp_path):
    case = make_case("encoded-core", 9, 4, dict(encoder="rate", neurons=8, n_inputs=4))
    compare = case.reads[0].compare

    def off_by_one(t, words):
        words = list(words)
        if t == 2:
            words[3] ^= 1                 # STATE word of neuron 3, lowest bit of i
        return compare(t, words)
    case.reads[0].compare = off_by_one
    vcd = tmp_path / "ec.vcd"
    res = run(case, seed=9, vcd_path=vcd)
    assert not res.bit_exact
    d = res.first_divergence
    assert (d.step, d.block, d.where, d.field) == (2, "core", "neuron 3", "i")


def test_bad_arguments():
    with pytest.raises(ValueError, match="--block nope: unknown block"):
        cosim_block("nope")
    with pytest.raises(ValueError, match="steps = 0 must be a positive integer"):
        cosim_block("lfsr", steps=0)
    with pytest.raises(ValueError, match="backend = 'vhdl'"):
        cosim_block("lfsr", backend="vhdl", steps=1)
    with pytest.raises(ValueError, match=r"gap = 1.0 must be a probability in \[0, 1\)"):
        cosim_block("lfsr", gap=1.0, steps=1)


def test_cli_block_json(capsys):
    assert main(["cosim", "--block", "sc-div", "--steps", "4", "--seed", "3", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    s = json.loads(out[-1])
    assert SUMMARY_KEYS <= s.keys() and s["bit_exact"] is True and s["block"] == "sc-div"


def test_cli_block_mismatch_exits_1(capsys, monkeypatch, tmp_path):
    make = builder("lfsr")

    def broken(rng, steps, **p):
        case = make(rng, steps, **p)
        case.steps[-1].state["state"] ^= 1
        return case
    monkeypatch.setitem(BLOCKS, "lfsr", broken)
    vcd = tmp_path / "cli.vcd"
    assert main(["cosim", "--block", "lfsr", "--steps", "3", "--vcd", str(vcd), "--json"]) == 1
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["bit_exact"] is False and s["first_divergence"]["where"] == "state"
    assert s["vcd"] == str(vcd) and vcd.exists()


def test_bad_seed_and_negative_steps():
    with pytest.raises(ValueError, match="seed = -1 must be a non-negative integer"):
        make_case("lfsr", -1, 2)
    with pytest.raises(ValueError, match="steps = -3 must be a positive integer"):
        make_case("core", 0, -3)
    assert main(["cosim", "--block", "core", "--steps", "-3", "--json"]) == 2


def test_default_vcd_path(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROFAB_VCD_DIR", str(tmp_path))
    assert E.default_vcd_path("core", "verilator", 3) == tmp_path / "core-verilator-seed3.vcd"


# --- Verilator ----------------------------------------------------------------------
#: Fixed parameters: one Verilog (one cached build) per entry, shared by both seeds.
VERILATOR = {
    "rate": dict(channels=6, width=8, seed=0x2B67, rand_width=16, leap=None),
    "delta": dict(channels=5, width=8, threshold=20),
    "sng": dict(source="sobol", shared=False, lanes=4, width=8, source_width=10, dim=3),
    "sc-tanh": dict(lanes=8, states=8),
    "sc-count": dict(lanes=4, length=16),
    # the network differs per seed: it is uploaded into one build through i_mem
    "encoded-core": dict(encoder="population", neurons=8, n_inputs=6, fields=3, width=6,
                         seed=0x51, max_fanout=6),
}


@pytest.mark.slow
@pytest.mark.parametrize("block", sorted(VERILATOR))
def test_block_verilator_fixed_params(block, tmp_path):
    for seed in (1, 2):
        steps = 10 if block == "encoded-core" else 16
        res = cosim_block(block, backend="verilator", seed=seed, steps=steps,
                          params=VERILATOR[block], workdir=tmp_path / f"s{seed}")
        assert res.bit_exact, res.report()
        assert res.summary()["backend"] == "verilator"
        if seed == 2:
            assert res.build["cached"]          # same instance, same build


@pytest.mark.slow
def test_block_verilator_mismatch_writes_vcd(tmp_path):
    case = make_case("sc-tanh", 3, 5, VERILATOR["sc-tanh"])
    case.steps[2].state["state[4]"] += 1
    vcd = tmp_path / "tanh.vcd"
    res = run(case, backend="verilator", seed=3, vcd_path=vcd, workdir=tmp_path / "w")
    _check_failure(res, vcd, "state", 2, "state[4]")


def test_module_exports():
    assert set(E.__all__) >= {"run", "CosimResult", "StepCase", "Probed", "Divergence"}
