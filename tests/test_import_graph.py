"""The import graph of ``messenger`` has no cycle, and services never import the jobs that call them.

The graph comes from grimp (the library behind import-linter): every ``import`` in every
module, including imports inside functions, so a lazy import cannot hide a cycle.
"""
from __future__ import annotations

import importlib

import grimp
import pytest

from messenger.jobs import catalog


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("messenger", include_external_packages=False)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle(graph: grimp.ImportGraph) -> None:
    cycles = _cycles(graph)
    details = [graph.find_shortest_chain(importer=c[0], imported=c[-1]) for c in cycles]
    assert not cycles, f"import cycles: {cycles} (e.g. {details})"


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself can fail: two modules importing each other are reported."""
    fake = grimp.ImportGraph()
    for module in ("pkg.a", "pkg.b", "pkg.c"):
        fake.add_module(module)
    fake.add_import(importer="pkg.a", imported="pkg.b")
    fake.add_import(importer="pkg.b", imported="pkg.a")
    fake.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(fake) == [["pkg.a", "pkg.b"]]


def test_services_and_models_never_import_jobs_or_views(graph: grimp.ImportGraph) -> None:
    """Dependencies point one way: views and jobs call services; services enqueue jobs by address."""
    for lower in ("messenger.services", "messenger.models"):
        for upper in ("messenger.jobs.assignment", "messenger.jobs.scanning", "messenger.blueprints"):
            chain = graph.find_shortest_chains(importer=lower, imported=upper)
            assert not chain, f"{lower} reaches {upper}: {chain}"


def test_routing_and_capacity_sit_below_conversations_and_messages(graph: grimp.ImportGraph) -> None:
    for low in ("messenger.services.routing", "messenger.services.capacity"):
        for high in ("messenger.services.conversations", "messenger.services.messages",
                     "messenger.services.assignment"):
            assert not graph.chain_exists(importer=low, imported=high, as_packages=True), (low, high)


@pytest.mark.parametrize("ref", catalog.ALL, ids=lambda ref: ref.path)
def test_every_job_address_names_its_decorated_function(ref) -> None:  # type: ignore[no-untyped-def]
    module, _, name = ref.path.rpartition(".")
    fn = getattr(importlib.import_module(module), name)
    assert fn.job_ref is ref
