"""The step graph of a definition: where each step goes, what is reachable, what comes first.

A step goes to its `next`, or to the following step in order, or ends the case when it is the
last; a condition goes to `then` and `else`; a wait whose timeout action is `go_to` may also
jump there. "Earlier" in this language means *dominating*: step A is earlier than step B when
every path from the trigger to B passes through A, so whatever A produced (a task, an outcome)
is sure to exist when B runs. Position in the list alone would not promise that once branches
join or loop.

Built from a `DefinitionDraft`, which may still break rules: a target naming no step counts
as an end here, so one wrong id yields one error (reported by `validation`) rather than a
cascade of "never ends" and "unreachable".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from byte_contracts.definitions.models import END, ConditionStep, DefinitionDraft, Loc


@dataclass(frozen=True)
class Edge:
    source: int
    target: int | None  # None: the case ends
    loc: Loc  # the field that makes this edge (an implicit "following step" is `next`)


class Flow:
    def __init__(self, definition: DefinitionDraft) -> None:
        self.steps = definition.steps
        self.index: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            self.index.setdefault(step.id, i)
        self.edges: list[list[Edge]] = [list(self._edges_of(i)) for i in range(len(self.steps))]

    def _edges_of(self, i: int) -> Iterator[Edge]:
        step = self.steps[i]
        targets: list[tuple[Loc, str]] = []
        if not isinstance(step, ConditionStep):
            following = self.steps[i + 1].id if i + 1 < len(self.steps) else END
            targets.append((("steps", i, "next"), step.next or following))
        targets += [(("steps", i, "config", *loc), target) for loc, target in step.config.targets()]
        for loc, target in targets:
            found = self.index.get(target) if target != END else None
            # Going back to the first step (the trigger) is an error of its own; here it ends,
            # like an unknown id.
            yield Edge(i, None if found == 0 else found, loc)

    def successors(self, i: int) -> list[int]:
        return [edge.target for edge in self.edges[i] if edge.target is not None]

    @cached_property
    def reachable(self) -> set[int]:
        """Steps some path from the first step reaches."""
        seen = {0}
        todo = [0]
        while todo:
            for nxt in self.successors(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    @cached_property
    def can_end(self) -> set[int]:
        """Steps from which some path ends the case."""
        preds: dict[int, list[int]] = {i: [] for i in range(len(self.steps))}
        for i in range(len(self.steps)):
            for nxt in self.successors(i):
                preds[nxt].append(i)
        done = {i for i, edges in enumerate(self.edges) if any(edge.target is None for edge in edges)}
        todo = list(done)
        while todo:
            for prev in preds[todo.pop()]:
                if prev not in done:
                    done.add(prev)
                    todo.append(prev)
        return done

    @cached_property
    def dominators(self) -> dict[int, frozenset[int]]:
        """For each reachable step, the steps on every path from the first step to it (itself
        included). The plain iterative algorithm: definitions hold at most a few hundred steps."""
        nodes = sorted(self.reachable)
        preds: dict[int, list[int]] = {i: [] for i in nodes}
        for i in nodes:
            for nxt in self.successors(i):
                preds[nxt].append(i)
        everything = frozenset(nodes)
        dom: dict[int, frozenset[int]] = {i: everything for i in nodes}
        dom[0] = frozenset({0})
        changed = True
        while changed:
            changed = False
            for i in nodes[1:]:
                new = frozenset({i}).union(frozenset.intersection(*(dom[p] for p in preds[i])))
                if new != dom[i]:
                    dom[i] = new
                    changed = True
        return dom

    def earlier(self, i: int) -> list[int]:
        """Steps that come before step `i` on every path to it, in definition order. Nothing for
        an unreachable step: no path leads there."""
        if i not in self.reachable:
            return []
        return sorted(self.dominators[i] - {i})

    def loops_without_pause(self) -> list[list[Edge]]:
        """Each loop made only of steps that do not pause (no wait, no delay), as the edges
        around it, starting with an edge that goes back up the list."""
        calm = [i for i, step in enumerate(self.steps) if not step.PAUSES]
        calm_set = set(calm)
        loops = []
        for component in _strongly_connected(calm, lambda i: [n for n in self.successors(i) if n in calm_set]):
            inside = [edge for i in sorted(component) for edge in self.edges[i] if edge.target in component]
            if len(component) == 1 and not inside:
                continue
            back = next(edge for edge in inside if edge.target is not None and edge.target <= edge.source)
            loops.append(self._around(back, component))
        return loops

    def _around(self, back: Edge, component: set[int]) -> list[Edge]:
        """`back` followed by a shortest path inside `component` from its target to its source."""
        assert back.target is not None
        came_by: dict[int, Edge | None] = {back.target: None}
        frontier = [back.target]
        while back.source not in came_by and frontier:
            following = []
            for i in frontier:
                for edge in self.edges[i]:
                    if edge.target in component and edge.target not in came_by:
                        came_by[edge.target] = edge
                        following.append(edge.target)
            frontier = following
        path: list[Edge] = []
        at = back.source
        while (arrived_by := came_by.get(at)) is not None:
            path.append(arrived_by)
            at = arrived_by.source
        return [back, *reversed(path)]


def _strongly_connected(nodes: list[int], successors: Callable[[int], list[int]]) -> list[set[int]]:
    """Tarjan's algorithm, iteratively (no recursion limit to worry about)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[set[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
