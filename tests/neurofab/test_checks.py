"""neurofab.checks: one wording for every integer parameter check."""

import numpy as np
import pytest

from neurofab.checks import check_bool, check_int, check_pow2


def test_check_int_accepts_python_and_numpy_integers():
    assert check_int("n", 3, 0, 7) == 3
    for value in (np.int8(3), np.uint16(3), np.int64(3)):
        got = check_int("n", value, 0, 7)
        assert got == 3 and type(got) is int
    assert check_int("n", -5) == -5                 # type only
    assert check_int("n", 5, lo=2) == 5 and check_int("n", 5, hi=9) == 5


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.5, 8.0, np.float64(2.0),
                                   float("nan"), "3", None, [1]])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(TypeError, match=r"^n_inputs must be an integer, not "):
        check_int("n_inputs", value, 0, 10)


def test_check_int_names_field_value_and_limit():
    with pytest.raises(ValueError, match=r"^n_inputs = -1 is outside the limit \[0, 10\]$"):
        check_int("n_inputs", -1, 0, 10)
    with pytest.raises(ValueError, match=r"^depth = 1 is below the limit 2$"):
        check_int("depth", 1, lo=2)
    with pytest.raises(ValueError, match=r"^depth = 9 is above the limit 8$"):
        check_int("depth", np.int32(9), hi=8)


def test_check_pow2():
    assert check_pow2("n_neurons", np.int64(16), 2, 4096) == 16
    for bad in (3, 12, 1, 8192):
        with pytest.raises(ValueError, match=rf"^n_neurons = {bad} must be a power of two in "
                                             r"\[2, 4096\]$"):
            check_pow2("n_neurons", bad, 2, 4096)
    with pytest.raises(TypeError, match="n_neurons must be an integer"):
        check_pow2("n_neurons", 16.0, 2, 4096)


def test_check_bool():
    assert check_bool("lossless", np.bool_(True)) is True
    with pytest.raises(TypeError, match="lossless must be a bool, not 1"):
        check_bool("lossless", 1)
