"""The package's import graph: no cycles anywhere (function-level imports included), no
private name imported from another package, and ``neurofab.host`` free of ``neurofab.rtl``.

Every ``import`` statement of every module is an edge, wherever it stands (module level,
function body, ``if`` branch). ``from X import Y`` is an edge to the module ``X.Y`` when
``Y`` is a module, else to ``X``. A package's ``__init__`` counts as the package.
"""

import ast
import importlib.util
import pkgutil
from pathlib import Path

import neurofab


#: the distribution's packages whose folders lie elsewhere (``[tool.setuptools.package-dir]``)
MAPPED = ("rtl", "golden", "cosim", "boards", "host")


def _modules():
    """``{module name: source path}`` of every module of the distribution."""
    out = {}
    todo = ["neurofab"] + [f"neurofab.{p}" for p in MAPPED]
    while todo:
        name = todo.pop()
        spec = importlib.util.find_spec(name)
        out[name] = Path(spec.origin)
        for info in pkgutil.iter_modules(spec.submodule_search_locations, f"{name}."):
            if info.ispkg:
                todo.append(info.name)
            else:
                out[info.name] = Path(importlib.util.find_spec(info.name).origin)
    return out


MODULES = _modules()


def _package(name):
    path = MODULES[name]
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imports(name):
    """``(target module, imported names, line)`` of every import statement of ``name``."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(name)
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            yield target, tuple(a.name for a in node.names), node.lineno


def _edges(name):
    """Modules of the distribution that ``name`` imports, with the line."""
    out = []
    for target, names, line in _imports(name):
        subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        if subs:
            out += [(s, line) for s in subs]
        if target in MODULES and len(subs) < len(names) or (not names and target in MODULES):
            out.append((target, line))
    return out


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def test_the_walk_sees_the_whole_package():
    for name in ("neurofab.config", "neurofab.rtl.core", "neurofab.golden.core",
                 "neurofab.cosim.engine", "neurofab.host.board", "neurofab.boards.top",
                 "neurofab.rtl.link.controller"):
        assert name in MODULES
    assert ("neurofab.cosim.engine", 0) not in _edges("neurofab.cosim.core")
    assert "neurofab.cosim.engine" in {t for t, _ in _edges("neurofab.cosim.core")}
    # function-level imports count
    assert "neurofab.cosim.gatelevel" in {t for t, _ in _edges("neurofab.cosim.engine")}


def test_no_import_cycles():
    graph = {m: sorted({t for t, _ in _edges(m)} - {m}) for m in MODULES}
    cycles = _cycles(graph)
    detail = []
    for comp in cycles:
        for m in comp:
            detail += [f"{m}:{line} imports {t}" for t, line in _edges(m) if t in comp and t != m]
    assert not cycles, "import cycles:\n" + "\n".join(detail)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def _private_module(target):
    """The package holding the first private module on ``target``'s path, or None."""
    parts = target.split(".")
    for k, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:k])
    return None


def test_no_private_names_across_packages():
    bad = []
    for m in MODULES:
        for target, names, line in _imports(m):
            if not target.startswith("neurofab"):
                continue
            owner = _private_module(target)
            if owner is not None and _package(m) != owner:
                bad.append(f"{m}:{line} imports the private module {target}")
            for n in names:
                private = n.startswith("_") and not n.startswith("__")
                if private and _package(m) != (target if f"{target}.{n}" not in MODULES
                                                 else target):
                    bad.append(f"{m}:{line} imports {target}.{n}")
    assert not bad, "\n".join(bad)


def test_host_imports_no_rtl():
    bad = [f"{m}:{line} imports {t}" for m in MODULES if m.startswith("neurofab.host")
           for t, line in _edges(m) if t.startswith("neurofab.rtl")]
    assert not bad, "\n".join(bad)
