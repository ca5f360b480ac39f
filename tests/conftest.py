"""Shared pytest fixtures.

* ``neurofab_cache`` — the neurofab cache folder (``$NEUROFAB_CACHE``, else the user cache
  dir). Verilator builds live there and persist across test sessions, so only the first
  run pays for them.
* ``session_dir`` — a scratch folder shared by the whole session (work directories of
  simulator runs, waveforms).
* ``board_builds`` — the ``out_dir`` of bitstream builds for the whole session, so a test
  that builds the same design as another (the CLI's ``build``) gets the cached result.
"""

import pytest


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
