"""The import arrows of ARCHITECTURE.md, and the public facade ``titans_ts``.

Layers, lowest first: the core (``titans_ts`` and its modules but ``training`` and ``forecasting``, ``titans_ts.ops``)
0; ``titans_ts.training`` 1; the applications ``titans_ts.forecasting`` and ``genomics`` 2 (neither imports the
other); ``pipelines`` 3; ``dashboards`` 4. A module may import its own layer and the layers below. Every import
counts: at module level, in functions, under ``if TYPE_CHECKING``, relative ones resolved. The facade
``titans_ts/__init__.py`` imports only the core at import time; what it exports from above the core (``_LAZY``) it
imports on first use (PEP 562, or for type checkers only), and only from ``titans_ts``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("titans_ts", "genomics", "pipelines", "dashboards")
FACADE = "titans_ts"
LAZY_TABLE = "_LAZY"  # in the facade: exported name → the module it is imported from on first use


@dataclass(frozen=True)
class Layer:
    rank: int
    name: str


def layer(module: str) -> Layer | None:
    """The layer of a module of the tree; None outside it (the standard library, torch, ...)."""
    top, _, rest = module.partition(".")
    if top == "titans_ts":
        sub = rest.partition(".")[0]
        if sub == "training":
            return Layer(1, "titans_ts.training")
        if sub == "forecasting":
            return Layer(2, "titans_ts.forecasting")
        return Layer(0, "core")
    return {
        "genomics": Layer(2, "genomics"),
        "pipelines": Layer(3, "pipelines"),
        "dashboards": Layer(4, "dashboards"),
    }.get(top)


def allowed(source: Layer, target: Layer) -> bool:
    """Down or sideways within a layer; the two applications, both of rank 2, do not import each other."""
    if target.rank == source.rank:
        return target.name == source.name or source.rank != 2
    return target.rank < source.rank


def find_modules(root: Path) -> dict[str, Path]:
    """Dotted name → file of every module under the packages of ``root``."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def lazy_table(path: Path) -> dict[str, str]:
    """The facade's ``_LAZY`` dict literal (empty when it has none)."""
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == LAZY_TABLE for t in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    return {}


@dataclass(frozen=True)
class Import:
    target: str  # the module imported, resolved
    line: int
    text: str  # the statement as written
    lazy: bool  # inside a function or under ``if TYPE_CHECKING``: not run when the module is imported


def find_imports(path: Path, module: str, modules: dict[str, Path], lazy: dict[str, str]) -> list[Import]:
    """Every import statement of ``path`` (module ``module``) with the module it reaches: ``from a import b`` reaches
    ``a.b`` when that is a module of the tree, the facade's lazy export ``b`` when ``a`` is the facade, else ``a``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, is_lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, child.lineno, ast.unparse(child), is_lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join([*parts, *([child.module] if child.module else [])])
                for alias in child.names:
                    target = base
                    if f"{base}.{alias.name}" in modules:
                        target = f"{base}.{alias.name}"
                    elif base == FACADE and alias.name in lazy:
                        target = lazy[alias.name]
                    found.append(Import(target, child.lineno, ast.unparse(child), is_lazy))
            deferred = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            visit(child, is_lazy or deferred)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def violations(root: Path) -> list[str]:
    """One line per import of the tree under ``root`` that points upward (or across the applications):
    ``file:line: statement (source layer → target layer)``."""
    modules = find_modules(root)
    facade = modules.get(FACADE)
    lazy = lazy_table(facade) if facade else {}
    found = []
    for module, path in modules.items():
        source = layer(module)
        where = path.relative_to(root)
        if module == FACADE:  # the core at import time; from titans_ts only, and on first use, what is above it
            imports = [Import(target, 0, f"{LAZY_TABLE}[{name!r}]", True) for name, target in lazy.items()]
            for item in [*find_imports(path, module, modules, lazy), *imports]:
                target = layer(item.target)
                if target is None:
                    continue
                if target.rank > 0 and not item.lazy:
                    found.append(f"{where}:{item.line}: {item.text} (the facade imports {target.name} at import time)")
                elif target.name not in ("core", "titans_ts.training", "titans_ts.forecasting"):
                    found.append(f"{where}:{item.line}: {item.text} (the facade → {target.name})")
            continue
        for item in find_imports(path, module, modules, lazy):
            target = layer(item.target)
            if target is not None and not allowed(source, target):
                found.append(f"{where}:{item.line}: {item.text} ({source.name} → {target.name})")
    return list(dict.fromkeys(found))  # once per statement, not per imported name


def test_imports_point_down() -> None:
    """No module of titans_ts, genomics, pipelines or dashboards imports a layer above its own."""
    found = violations(ROOT)
    assert not found, "imports pointing upward (see ARCHITECTURE.md):\n" + "\n".join(found)


def test_checker_sees_the_whole_tree() -> None:
    """The checker reads the real packages (a typo in PACKAGES would make the test above pass vacuously)."""
    modules = find_modules(ROOT)
    for module in ("titans_ts", "titans_ts.memory", "titans_ts.training.fit", "titans_ts.forecasting.task",
                   "genomics.fit", "pipelines.cli", "dashboards.app"):  # fmt: skip
        assert module in modules
    assert lazy_table(modules[FACADE])["Forecaster"] == "titans_ts.forecasting.estimator"


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


CLEAN_TREE = {
    "titans_ts/__init__.py": """
        import importlib
        from typing import TYPE_CHECKING
        from .memory import Memory
        if TYPE_CHECKING:
            from .forecasting.estimator import Forecaster  # for type checkers only: allowed
        _LAZY = {"Forecaster": "titans_ts.forecasting.estimator"}
        def __getattr__(name):
            from .forecasting import estimator  # lazy: allowed
            return importlib.import_module(_LAZY[name])
    """,
    "titans_ts/memory.py": "import torch\nfrom .ops.update import step\n",
    "titans_ts/ops/__init__.py": "",
    "titans_ts/ops/update.py": "from ..memory import Memory\n",
    "titans_ts/training/__init__.py": "",
    "titans_ts/training/fit.py": "from titans_ts import Memory\nfrom ..memory import Memory\n",
    "titans_ts/forecasting/__init__.py": "",
    "titans_ts/forecasting/estimator.py": "from ..training import fit\nfrom . import task\n",
    "titans_ts/forecasting/task.py": "from titans_ts.training.fit import fit\n",
    "genomics/__init__.py": "",
    "genomics/fit.py": "from titans_ts.training.fit import fit\nfrom titans_ts import Memory\n",
    "pipelines/__init__.py": "",
    "pipelines/cli.py": "from genomics import fit\nfrom titans_ts import Forecaster\nfrom . import artifacts\n",
    "pipelines/artifacts.py": "NAME = 'x'\n",
    "dashboards/__init__.py": "",
    "dashboards/app.py": "from pipelines.artifacts import NAME\nfrom genomics.fit import fit\n",
}


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    write_tree(tmp_path, CLEAN_TREE)
    assert violations(tmp_path) == []


def test_checker_catches_planted_upward_imports(tmp_path: Path) -> None:
    """Each kind of upward import planted in a clean synthetic tree is reported with its file and statement."""
    planted = {
        "titans_ts/memory.py": "import torch\nfrom .ops.update import step\nfrom titans_ts.forecasting import task\n",
        "titans_ts/ops/update.py": "def f():\n    from ...pipelines import cli  # lazy, relative\n",
        "titans_ts/training/fit.py": "from ..forecasting.task import Task\n",
        "genomics/fit.py": "from titans_ts import Forecaster\n",  # across the applications, through the facade
        "titans_ts/forecasting/task.py": "def g():\n    import genomics.fit\n",
        "pipelines/cli.py": "from dashboards import app\n",
        "pipelines/artifacts.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dashboards.app\n",
        "titans_ts/__init__.py": """
            from .memory import Memory
            from .forecasting.estimator import Forecaster
            _LAZY = {"Forecaster": "titans_ts.forecasting.estimator", "Fit": "genomics.fit"}
        """,
    }
    write_tree(tmp_path, {**CLEAN_TREE, **planted})
    found = violations(tmp_path)
    expected = [
        ("titans_ts/memory.py:3:", "from titans_ts.forecasting import task", "core → titans_ts.forecasting"),
        ("titans_ts/ops/update.py:2:", "from ...pipelines import cli", "core → pipelines"),
        ("titans_ts/training/fit.py:1:", "from ..forecasting.task import Task", "titans_ts.training → titans_ts.fore"),
        ("genomics/fit.py:1:", "from titans_ts import Forecaster", "genomics → titans_ts.forecasting"),
        ("titans_ts/forecasting/task.py:2:", "import genomics.fit", "titans_ts.forecasting → genomics"),
        ("pipelines/cli.py:1:", "from dashboards import app", "pipelines → dashboards"),
        ("pipelines/artifacts.py:3:", "import dashboards.app", "pipelines → dashboards"),
        ("titans_ts/__init__.py:3:", "from .forecasting.estimator import Forecaster", "at import time"),
        ("titans_ts/__init__.py:0:", "_LAZY['Fit']", "the facade → genomics"),
    ]
    for where, statement, arrow in expected:
        assert any(f.startswith(where) and statement in f and arrow in f for f in found), (where, found)
    assert len(found) == len(expected), found


def test_public_api() -> None:
    """The memory, the backbone and the three forecasting entry points import from the package root."""
    import titans_ts
    from titans_ts import Forecaster, NeuralMemory, Titans, TitansConfig, TitansForecastNet, TitansPF
    from titans_ts.forecasting.estimator import Forecaster as EstimatorForecaster
    from titans_ts.forecasting.model import TitansForecastNet as ForecastNet
    from titans_ts.forecasting.pf_model import TitansPF as PF

    assert (Forecaster, TitansForecastNet, TitansPF) == (EstimatorForecaster, ForecastNet, PF)
    assert {"NeuralMemory", "Titans", "TitansConfig", "Forecaster", "TitansForecastNet", "TitansPF"} <= set(
        titans_ts.__all__
    )
    assert {"Forecaster", "TitansPF"} <= set(dir(titans_ts))
    assert NeuralMemory.__module__ == "titans_ts.memory" and Titans.__module__ == "titans_ts.backbones"
    assert TitansConfig.__module__ == "titans_ts.config"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        titans_ts.Nope  # noqa: B018


def test_import_stays_light() -> None:
    """``import titans_ts`` loads the core only: not the applications, Lightning or pytorch-forecasting."""
    code = (
        "import sys, titans_ts\n"
        "heavy = ('lightning', 'pytorch_forecasting', 'mlflow', 'titans_ts.forecasting', 'titans_ts.training', "
        "'genomics', 'pipelines')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]", result.stdout
