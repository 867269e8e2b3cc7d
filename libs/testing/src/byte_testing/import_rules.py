"""Import rules that import-linter's built-in contract types cannot say, registered as
`contract_types` in the root pyproject.toml and checked by `lint-imports`
(tests/test_conventions.py runs it)."""

from __future__ import annotations

import sys
from itertools import pairwise
from typing import Any, cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.imports import ModuleExpression


def _line_numbers(graph: ImportGraph, importer: str, imported: str) -> str:
    lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported))
    return ", ".join(f"l.{n}" for n in lines) or "l.?"


class IndependentServices(Contract):
    """Every root package that is not one of the `shared` libraries is a service, and no service
    imports another, even indirectly. Listing a new service's package in `root_packages` is all
    it takes to bring it under the rule."""

    type_name = "independent_services"

    shared = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        # Fields are descriptors on the class and parsed values on the instance.
        shared = set(cast(list[str], self.shared))
        services = sorted(p for p in self.session_options["root_packages"] if p not in shared)
        output.verbose_print(verbose, f"Services: {', '.join(services)}")
        dependencies = graph.find_illegal_dependencies_for_layers(layers=(set(services),))
        chains: list[dict[str, Any]] = []
        for dependency in sorted(dependencies, key=lambda d: (d.importer, d.imported)):
            chain = graph.find_shortest_chain(dependency.importer, dependency.imported, as_packages=True) or ()
            chains.append(
                {
                    "importer": dependency.importer,
                    "imported": dependency.imported,
                    "links": [(a, b, _line_numbers(graph, a, b)) for a, b in pairwise(chain)],
                }
            )
        return ContractCheck(kept=not chains, metadata={"chains": chains})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for chain in check.metadata["chains"]:
            output.print_error(f"{chain['importer']} is not allowed to import {chain['imported']}:")
            for importer, imported, lines in chain["links"]:
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported} ({lines})")
            output.new_line()


class ImportsOnly(Contract):
    """The `source_modules` (module expressions, taken as packages) import directly nothing but
    the standard library and the `allowed_modules` (and what is inside them). What the allowed
    modules import in turn is their own business.

    Needs `include_external_packages = true`: without it, imports of third-party packages are not
    in the graph and the rule could not see them."""

    type_name = "imports_only"

    source_modules = fields.ListField(subfield=fields.ModuleExpressionField())
    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        if str(self.session_options.get("include_external_packages", "")).lower() != "true":
            raise ValueError(f"{self.name!r} needs include_external_packages = true to see third-party imports")
        sources: set[str] = set()
        expressions = cast(list[ModuleExpression], self.source_modules)
        for expression in expressions:
            for module in graph.find_matching_modules(expression.expression):
                sources |= {module, *graph.find_descendants(module)}
        if not sources:
            raise ValueError(f"{self.name!r}: no module matches {[str(e) for e in expressions]}")
        allowed = tuple(cast(list[str], self.allowed_modules))

        def permitted(imported: str) -> bool:
            return imported.split(".")[0] in sys.stdlib_module_names or any(
                imported == a or imported.startswith(a + ".") for a in allowed
            )

        illegal = [
            (importer, imported, _line_numbers(graph, importer, imported))
            for importer in sorted(sources)
            for imported in sorted(graph.find_modules_directly_imported_by(importer))
            if not permitted(imported)
        ]
        output.verbose_print(verbose, f"Checked {len(sources)} modules against {allowed}")
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal, "allowed": allowed})

    def render_broken_contract(self, check: ContractCheck) -> None:
        allowed = ", ".join(check.metadata["allowed"])
        for importer, imported, lines in check.metadata["illegal"]:
            output.print_error(
                f"{importer} is not allowed to import {imported} ({lines}): only the standard library and {allowed}"
            )
        output.new_line()
