"""The package-dir mapping works for both install kinds: editable (this venv) and wheel."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = ("rtl", "golden", "cosim", "boards", "host")
# pip's own deprecation warnings are not ours to turn into errors.
PIP_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}


def test_editable_install_maps_every_subpackage():
    import neurofab
    for sub in MAPPED:
        mod = __import__(f"neurofab.{sub}", fromlist=["_"])
        assert Path(mod.__file__).parent == ROOT / sub
    assert Path(neurofab.__file__).parent == ROOT / "neurofab"


@pytest.mark.slow
def test_wheel_contains_and_imports_every_subpackage(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True,
                   env=PIP_ENV)
    wheel, = (tmp_path / "dist").glob("neurofab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ["neurofab/spec/core.py", "neurofab/golden/core.py", "neurofab/rtl/__init__.py",
                 "neurofab/cosim/streams.py", "neurofab/host/__init__.py",
                 "neurofab/boards/__init__.py", "neurofab/tasks/digits.py",
                 "neurofab/nir/importer.py",
                 "neurofab/tasks/data/digits.nir", "neurofab/tasks/data/digits_snntorch.npz"]:
        assert path in names
    assert not any(n.startswith(("rtl/", "golden/", "cosim/", "tests/")) for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True,
                   env=PIP_ENV)
    code = ("import neurofab.golden, neurofab.rtl, neurofab.cosim.streams, neurofab.spec; "
            "print(neurofab.golden.__file__)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         cwd=tmp_path).stdout
    assert out.strip().startswith(str(target))
