"""The node's shape: no import circles, layers that only look down, modules of a readable size.

The graph is read from the source (tests/architecture/import_graph.py), function-level imports
included, so a circle cannot hide behind an import moved into a function.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from tests.architecture.import_graph import ROOT, module_files, read

# Lowest first. A module may import its own layer's modules (no circles) and any layer below.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "node.config",
            "node.extensions",
            "node.keys",
            "node.key_rotation",
            "node.logs",
            "node.text",
            "node.write_lock",
        ),
    ),
    ("models", ("node.models",)),
    ("documents", ("node.activitypub", "node.syndication")),
    ("services", ("node.services",)),
    (
        "app glue",
        (
            "node.auth",
            "node.oauth",
            "node.errors",
            "node.metrics",
            "node.openapi",
            "node.page_cache",
            "node.request_limits",
            "node.session_cookies",
            "node.templating",
            "node.worker",
        ),
    ),
    ("views", ("node.views",)),
    ("the factory", ("node",)),
    ("entry points", ("node.cli", "node.wsgi")),
)

LONGEST = 500  # lines; a longer module says at its top why it is one module
WHY_ONE_MODULE = "Why one module:"


def layer_of(module: str) -> int:
    """Return the index in LAYERS of the most specific prefix naming ``module``."""
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # "node" is the factory module alone; every other prefix covers its submodules.
            below = prefix != "node" and module.startswith(prefix + ".")
            if (module == prefix or below) and len(prefix) > best:
                best, rank = len(prefix), index
    if rank is None:
        raise LookupError(f"{module} belongs to no layer: add it to LAYERS")
    return rank


@pytest.fixture(scope="module")
def node_graph():
    return read("node")


def test_no_import_circle_among_node_modules(node_graph):
    circles = node_graph.circles()
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)


def test_every_node_module_belongs_to_a_layer(node_graph):
    for module in node_graph.files:
        layer_of(module)


def test_imports_only_look_down_the_layers(node_graph):
    upward = [
        f"{each.source}:{each.line} ({LAYERS[layer_of(each.source)][0]}) imports {each.target} "
        f"({LAYERS[layer_of(each.target)][0]})"
        for each in node_graph.imports
        if layer_of(each.target) > layer_of(each.source)
    ]
    assert not upward, "\n".join(upward)


def test_no_node_module_imports_another_inside_a_function(node_graph):
    # A function-level import of a neighbour is how circles used to be hidden; imports of
    # libraries (e.g. a slow one only a command needs) are not about the node's shape.
    hidden = [
        f"{each.source}:{each.line} imports {each.target} inside a function"
        for each in node_graph.imports
        if each.in_function
    ]
    assert not hidden, "\n".join(hidden)


# The places where what a peer sends (or a block an admin adds) is dispatched to the
# aggregator role when this node has it; everything else in the general services is the
# same on every node.
ROLE_DISPATCHERS = {
    "node.services.peering.inbox": "routes Follows to the directory, refused entries to quarantine",
    "node.services.peering.sync": "keeps a pulled entry it refused in quarantine",
    "node.services.peering.blocking": "takes a blocked peer out of the directory",
}


def test_general_services_do_not_reach_into_the_aggregator_role(node_graph):
    outside = [
        f"{each.source}:{each.line} imports {each.target}"
        for each in node_graph.imports
        if each.target.startswith("node.services.aggregator")
        and each.source.startswith(("node.services", "node.models", "node.activitypub"))
        and not each.source.startswith("node.services.aggregator")
        and each.source not in ROLE_DISPATCHERS
    ]
    assert not outside, "\n".join(outside)


@pytest.mark.parametrize("package", ["node", "federation", "schemas"])
def test_long_modules_say_why_they_are_one_module(package):
    too_long = []
    for module, path in module_files(package).items():
        text = path.read_text()
        if text.count("\n") > LONGEST and WHY_ONE_MODULE not in (
            ast.get_docstring(ast.parse(text)) or ""
        ):
            too_long.append(f"{module}: {text.count(chr(10))} lines")
    assert not too_long, "\n".join(too_long)


# The checks above pass by finding nothing, so the reader itself is tested on planted faults.


def _package(tmp_path, files: dict[str, str]):
    for name, source in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return read("pkg", root=tmp_path)


def test_reader_finds_a_circle_hidden_behind_a_function_level_import(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "sub/__init__.py": "",
            "b.py": "def later():\n    from .sub import c\n",
            "sub/c.py": "from ..a import thing\n",
        },
    )
    assert graph.circles() == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert [(i.source, i.target) for i in graph.imports if i.in_function] == [
        ("pkg.b", "pkg.sub.c")
    ]


def test_reader_sees_no_circle_in_a_package_that_only_looks_down(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "from . import top\n",
            "top.py": "from .low import base\nimport pkg.low.base\n",
            "low/__init__.py": "",
            "low/base.py": "import json\n",
        },
    )
    assert graph.circles() == []
    assert graph.edges()["pkg.top"] == {"pkg.low.base"}


def test_a_package_importing_its_own_submodule_that_imports_it_back_is_a_circle(tmp_path):
    graph = _package(
        tmp_path,
        {"__init__.py": "from . import routes\nbp = object()\n", "routes.py": "from . import bp\n"},
    )
    assert graph.circles() == [["pkg", "pkg.routes"]]


def test_layer_of_picks_the_most_specific_prefix():
    assert LAYERS[layer_of("node.services.peering.inbox")][0] == "services"
    assert LAYERS[layer_of("node")][0] == "the factory"
    assert LAYERS[layer_of("node.views.api.members")][0] == "views"
    with pytest.raises(LookupError):
        layer_of("node.somewhere_new")


def test_root_is_the_project():
    assert (ROOT / "pyproject.toml").is_file()
