"""Guards on the shape of the code (issue 16): the import graph of ``mailtls/`` has no cycles
and no function-level imports that could hide one, observations are a leaf, and the catalogue
and the checks match one to one. Pure AST reads: nothing is imported or run."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import yaml

from mailtls import requirements
from tests.conftest import REPO

PACKAGE = REPO / "mailtls"
# What the observations package may import from mailtls besides its own submodules: value types
# only (none are needed today).
OBSERVATION_IMPORTS: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(module: str, node: ast.ImportFrom, alias: str) -> str:
    """The mailtls module an import names (``from mailtls import x`` may name a submodule)."""
    base = node.module or ""
    if node.level:
        is_package = module in MODULES and MODULES[module].name == "__init__.py"
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}".rstrip(".")
    return f"{base}.{alias}" if f"{base}.{alias}" in MODULES else base


def _imports(module: str, source: str) -> tuple[set[str], set[str]]:
    """(mailtls modules imported at module level, those imported inside a function)."""
    top: set[str] = set()
    nested: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            found: list[str] = []
            if isinstance(child, ast.Import):
                found = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                found = [_target(module, child, a.name) for a in child.names]
            for name in found:
                if name == "mailtls" or name.startswith("mailtls."):
                    (nested if inside else top).add(name)
            visit(child, inside)

    visit(ast.parse(source), False)
    return top, nested


GRAPH = {m: _imports(m, p.read_text(encoding="utf-8")) for m, p in MODULES.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module, or with a self-loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, set()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, set()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_walk_tells_module_level_from_function_level_imports() -> None:
    source = (
        "from mailtls import certs, verdicts\n"
        "from .flight import x\n"
        "def f():\n"
        "    from mailtls.records import select\n"
        "    import mailtls.gate\n"
    )
    top, nested = _imports("mailtls.tls.hello", source)
    assert top == {"mailtls.certs", "mailtls.verdicts", "mailtls.tls.flight"}
    assert nested == {"mailtls.records", "mailtls.gate"}
    assert "mailtls.requirements" in GRAPH["mailtls.plugin"][0]


def test_no_import_cycles_in_mailtls() -> None:
    """Function-level imports count too: a cycle they hide is still a cycle."""
    edges = {m: top | nested for m, (top, nested) in GRAPH.items()}
    assert _cycles(edges) == []


def test_no_function_level_imports_of_mailtls_modules() -> None:
    hidden = {m: sorted(nested) for m, (_, nested) in GRAPH.items() if nested}
    assert hidden == {}, "import these at module level (a function-level import hides a cycle)"


def test_observations_are_a_leaf() -> None:
    """The package and each of its submodules import only each other (and value types)."""
    package = [
        m for m in GRAPH if m == "mailtls.observations" or m.startswith("mailtls.observations.")
    ]
    assert len(package) > 1, package
    for module in package:
        top, nested = GRAPH[module]
        outside = {t for t in top | nested if not t.startswith("mailtls.observations.")}
        assert outside <= OBSERVATION_IMPORTS, f"{module} imports {sorted(outside)}"


def _requirement_marks(pattern: str = "*.py") -> Counter[str]:
    """Requirement IDs named by ``@pytest.mark.requirement("ID")`` in checks/, with counts."""
    marks: Counter[str] = Counter()
    for path in sorted((REPO / "checks").glob(pattern)):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "requirement"
            ):
                arg = node.args[0] if node.args else None
                assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                    f"{path.name}:{node.lineno}: the requirement marker takes one literal ID"
                )
                marks[arg.value] += 1
    return marks


def test_every_catalogue_row_has_exactly_one_check_and_every_check_an_existing_row() -> None:
    rows = set(requirements.catalogue())
    marks = _requirement_marks()
    assert sorted(rows - set(marks)) == [], "catalogue rows that no check asserts"
    assert sorted(set(marks) - rows) == [], "checks naming a requirement the catalogue lacks"
    assert sorted(r for r, n in marks.items() if n > 1) == [], "rows asserted by several checks"


def test_each_catalogue_file_has_the_check_module_of_the_same_name() -> None:
    """catalogue/<name>.yaml holds exactly the rows that checks/test_<name>.py asserts: a
    requirement, its check and its siblings are found from either side by the name alone."""
    modules = {
        p.name.removeprefix("test_").removesuffix(".py")
        for p in (REPO / "checks").glob("test_*.py")
    }
    files = {p.stem for p in (PACKAGE / "catalogue").glob("*.yaml")}
    assert sorted(files ^ modules) == [], "catalogue files and check modules that do not pair up"
    for name in sorted(files):
        rows = yaml.safe_load((PACKAGE / "catalogue" / f"{name}.yaml").read_text(encoding="utf-8"))
        ids = {row["id"] for row in rows}
        assert ids == set(_requirement_marks(f"test_{name}.py")), f"catalogue/{name}.yaml"


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _module_map() -> dict[str, set[str]]:
    """The README's module map: path (file or package folder) -> modules it may import."""
    rows: dict[str, set[str]] = {}
    for line in _readme_section("## The house").splitlines():
        if not line.startswith("| `mailtls/"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        path = cells[0].strip("`")
        allowed = re.findall(r"`([a-z_.]+)`", cells[2])
        rows[path] = {"mailtls" if a == "mailtls" else f"mailtls.{a}" for a in allowed}
    return rows


def _row_of(module: str, rows: dict[str, set[str]]) -> str | None:
    path = MODULES[module].relative_to(REPO).as_posix()
    if path in rows:
        return path
    folders = [p for p in rows if p.endswith("/") and path.startswith(p)]
    return max(folders, key=len) if folders else None


def test_the_readme_module_map_names_every_module_and_what_it_imports() -> None:
    rows = _module_map()
    missing = [m for m in MODULES if _row_of(m, rows) is None]
    assert missing == [], "modules the README's 'The house' table leaves out"
    beyond = {}
    for module, (top, nested) in GRAPH.items():
        row = _row_of(module, rows)
        assert row is not None
        allowed = rows[row] | ({module.rpartition(".")[0]} if row.endswith("/") else set())
        extra = [
            t
            for t in sorted(top | nested)
            if not any(t == a or t.startswith(a + ".") for a in allowed if a != "mailtls")
            and t not in allowed
        ]
        if extra:
            beyond[module] = extra
    assert beyond == {}, "imports the README's module map does not allow"


def test_the_adding_a_requirement_excerpts_are_the_projects_own_text() -> None:
    section = _readme_section("### Adding a requirement")
    blocks = re.findall(r"```(yaml|python)\n(.*?)```", section, flags=re.S)
    assert {kind for kind, _ in blocks} == {"yaml", "python"}
    sources = {
        "yaml": [p.read_text(encoding="utf-8") for p in (PACKAGE / "catalogue").glob("*.yaml")],
        "python": [p.read_text(encoding="utf-8") for p in (REPO / "checks").glob("*.py")],
    }
    for kind, block in blocks:
        assert any(block in text for text in sources[kind]), f"not in the project:\n{block}"
