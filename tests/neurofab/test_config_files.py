"""Crafted ``.nfcfg`` files: every one refused with a message naming the file and field,
before anything large is allocated (issue: reliability, defects 6 and 7)."""

import hashlib
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from neurofab import spec
from neurofab.config import CoreConfig, random_config


def wrap(payload):
    head = spec.CONFIG_MAGIC + struct.pack("<HQ", spec.CONFIG_VERSION, len(payload))
    return head + hashlib.sha256(payload).digest() + payload


def fields(cfg):
    with np.load(io.BytesIO(cfg.to_bytes()[len(spec.CONFIG_MAGIC) + 42:])) as z:
        return {k: z[k] for k in z.files}


def savez(d):
    buf = io.BytesIO()
    np.savez(buf, **d)
    return buf.getvalue()


CFG = random_config(np.random.default_rng(0), n_neurons=16, n_inputs=4)


def test_round_trip_still_works():
    assert CoreConfig.from_bytes(CFG.to_bytes()) == CFG


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(n_neurons=np.array(16.9)), "field 'n_neurons' holds float64 values"),
    (lambda d: d.update(syn_weight=np.array(d["syn_weight"], dtype=np.uint64) |
                        np.uint64(1 << 63)), "beyond the signed 64-bit range"),
    (lambda d: d.update(syn_target=d["syn_target"].reshape(1, -1)),
     r"field 'syn_target' has shape \(1, \d+\), expected one dimension"),
    (lambda d: d.update(extra=np.zeros(3, dtype=np.int64)), r"unknown fields \['extra'\]"),
    (lambda d: d.update(n_inputs=np.array([4])), "field 'n_inputs' has shape"),
    (lambda d: d.update(kernel=np.array(3)), "field 'kernel' must be a kernel name"),
])
def test_crafted_fields_are_refused(change, match):
    d = fields(CFG)
    change(d)
    with pytest.raises(ValueError, match=match):
        CoreConfig.from_bytes(wrap(savez(d)), name="x.nfcfg")


@pytest.mark.parametrize("payload, match", [
    (pickle.dumps({"n_neurons": 16}), "the payload is not a config archive"),
    (np.lib.format.header_data_from_array_1_0(np.zeros(3)).__repr__().encode(),
     "the payload is not a config archive"),
    (b"PK\x03\x04" + b"\0" * 40, "the payload is not a config archive"),
])
def test_foreign_payloads_are_refused(payload, match):
    with pytest.raises(ValueError, match=match):
        CoreConfig.from_bytes(wrap(payload), name="x.nfcfg")


def test_object_array_is_refused():
    d = fields(CFG)
    d["syn_delay"] = np.array([object()] * 3, dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **d)
    with pytest.raises(ValueError, match="field 'syn_delay' is unreadable"):
        CoreConfig.from_bytes(wrap(buf.getvalue()), name="x.nfcfg")


def bomb(key, size, base=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in (base or {}).items():
            if k != key:
                with z.open(k + ".npy", "w") as f:
                    np.lib.format.write_array(f, v)
        z.writestr(key + ".npy", b"\0" * size)
    return buf.getvalue()


def test_decompression_bomb_is_refused_before_unpacking():
    payload = bomb("profile", 64 << 20)                 # 64 MiB of zeros in ~64 KiB
    assert len(payload) < 200_000
    with pytest.raises(ValueError, match="field 'profile' would unpack to 67108864 bytes, "
                                         "above the limit 1052680"):
        CoreConfig.from_bytes(wrap(payload), name="x.nfcfg")


def test_synapse_fields_are_bounded_by_the_row_pointers():
    payload = bomb("syn_weight", 16 << 20, base=fields(CFG))
    n = int(CFG.fanout_ptr[-1])
    with pytest.raises(ValueError, match=f"field 'syn_weight' would unpack to 16777216 bytes, "
                                         f"above the limit {8 * n + 4096}"):
        CoreConfig.from_bytes(wrap(payload), name="x.nfcfg")
