"""federation/ and schemas/ stay plain libraries."""

import subprocess
import sys

import pytest

FORBIDDEN = ("flask", "flask_sqlalchemy", "sqlalchemy", "node")


@pytest.mark.parametrize("package", ["federation", "schemas"])
def test_importing_the_library_loads_neither_flask_nor_the_node(package):
    probe = (
        "import importlib, pkgutil, sys\n"
        f"import {package}\n"
        f"for info in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
