"""Shared pytest fixtures.

* ``neurofab_cache`` — the neurofab cache folder (``$NEUROFAB_CACHE``, else the user cache
  dir). Verilator builds live there and persist across test sessions, so only the first
  run pays for them.
* ``session_dir`` — a scratch folder shared by the whole session (work directories of
  simulator runs, waveforms).
* ``board_builds`` — the ``out_dir`` of bitstream builds for the whole session, so a test
  that builds the same design as another (the CLI's ``build``) gets the cached result.

And the marker ``gate_all``: a gate-level combination beyond the one per block the suite
runs (each costs a synthesis and a Verilator build of a netlist), skipped unless
``NEUROFAB_GATE_ALL=1``.
"""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("NEUROFAB_GATE_ALL"):
        return
    skip = pytest.mark.skip(reason="one gate-level family per block in the suite; "
                                   "NEUROFAB_GATE_ALL=1 runs all")
    for item in items:
        if item.get_closest_marker("gate_all") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def neurofab_cache():
    from neurofab.toolchain import cache_root
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session")
def board_builds(tmp_path_factory):
    return tmp_path_factory.mktemp("builds")
