"""Compiler wrapper that caches Verilator's run-time library objects across builds.

Every Verilator build compiles the same run-time sources (``verilated.cpp``,
``verilated_vpi.cpp``, ``verilated_threads.cpp``, ...) — about two thirds of the compile time
of a small design. Verilator's makefiles prefix every compile with ``$(OBJCACHE)``;
:func:`neurofab.toolchain.verilate` (the compiled cosim player, the simulated board) and the
cocotb builds of :func:`neurofab.cosim.verilator.build` point it at this script, which serves
those objects from ``$NEUROFAB_OBJCACHE_DIR`` when the command line (output path aside), the
source and Verilator's configuration header are unchanged, and passes every other compile
(the design's own code) straight to the compiler.

Usage (by make): ``python objcache.py <compiler> <arguments...>``
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _cacheable(argv):
    root = os.environ.get("VERILATOR_ROOT")
    cache = os.environ.get("NEUROFAB_OBJCACHE_DIR")
    if not root or not cache or "-c" not in argv:
        return None
    sources = [a for a in argv if a.endswith((".cpp", ".cc", ".c"))]
    if len(sources) != 1:
        return None
    include = (Path(root) / "include").resolve()
    src = Path(sources[0]).resolve()
    if include not in src.parents:
        return None
    if "-o" in argv:
        out = argv[argv.index("-o") + 1]
    else:
        out = src.with_suffix(".o").name
    key_args = [a for a in argv if a != out]
    h = hashlib.sha256()
    h.update("\0".join(key_args).encode())
    h.update(src.read_bytes())
    config = include / "verilated_config.h"
    if config.exists():
        h.update(config.read_bytes())
    compiler = shutil.which(argv[0])
    if compiler:
        st = os.stat(compiler)
        h.update(f"{compiler}:{st.st_size}:{st.st_mtime_ns}".encode())
    return Path(cache) / f"{src.stem}-{h.hexdigest()[:24]}.o", Path(out)


def main(argv):
    hit = _cacheable(argv)
    if hit is not None:
        cached, out = hit
        if cached.exists():
            shutil.copyfile(cached, out)
            return 0
    rc = subprocess.call(argv)
    if rc == 0 and hit is not None and out.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}")
        shutil.copyfile(out, tmp)
        os.replace(tmp, cached)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
