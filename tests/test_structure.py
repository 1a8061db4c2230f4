"""The package's shape: modules import in one direction (the order of the map in dcgan_lib/__init__.py), each
at the top of its file, never another module's private names; and `dcgan --help` does not load torch."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import dcgan_lib

PACKAGE = Path(dcgan_lib.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
# cli imports each command's modules when that command runs, so that `dcgan --help` answers without torch;
# grading's per-notebook worker process (python -m dcgan_lib.grading) starts without torch the same way
DEFERS_ON_PURPOSE = {"cli", "grading"}


def module_map() -> list[str]:
    """The module names in the order the package docstring lists them."""
    return re.findall(r"^    (\w+) {2,}", dcgan_lib.__doc__, flags=re.M)


def internal_imports(name: str) -> list[tuple[str, str, bool]]:
    """(imported module, imported name or "", at module level?) for each import of a dcgan_lib module."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or "").startswith("dcgan_lib")):
            module = (node.module or "").removeprefix("dcgan_lib").lstrip(".")
            for alias in node.names:
                target, what = (module, alias.name) if module else (alias.name, "")
                found.append((target.split(".")[0], what, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dcgan_lib."):
                    found.append((alias.name.split(".")[1], "", id(node) in top))
    return [f for f in found if f[0] in MODULES]


def test_the_module_map_lists_every_module_once():
    listed = module_map()
    assert sorted(listed) == MODULES, f"dcgan_lib/__init__.py's map differs from the files: {set(listed) ^ set(MODULES)}"


def test_modules_import_only_modules_listed_above_them():
    order = {name: i for i, name in enumerate(module_map())}
    wrong = [f"{name} imports {target}" for name in MODULES for target, _, _ in internal_imports(name)
             if order[target] >= order[name]]
    assert not wrong, f"imports against the map's order (or a cycle): {wrong}"


def test_internal_imports_are_at_the_top_and_public():
    hidden = [f"{name}: {target}" for name in MODULES if name not in DEFERS_ON_PURPOSE
              for target, _, at_top in internal_imports(name) if not at_top]
    assert not hidden, f"imports of the package's modules inside functions: {hidden}"
    private = [f"{name}: {target}.{what}" for name in MODULES for target, what, _ in internal_imports(name)
               if what.startswith("_") and what != "__version__"]
    assert not private, f"private names imported from another module: {private}"


def test_the_command_line_starts_without_torch():
    code = "import sys, dcgan_lib.cli; dcgan_lib.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "dcgan --help would load torch: keep cli.py's top-level imports light"
