"""What every route of this service depends on."""

from __future__ import annotations

from typing import Annotated

from byte_platform.http import CurrentContext
from fastapi import Depends, Request

from byte_executions.handlers import CaseHandlers, DefinitionHandlers, Provisioning
from byte_executions.handlers.notes import NoteHandlers
from byte_executions.queries import CaseQueries, DefinitionQueries
from byte_executions.queries.activity import ActivityQueries
from byte_executions.queries.live import LiveStates


# Dependencies are `async def` so FastAPI runs them on the event loop, not in a thread.
async def provisioned(ctx: CurrentContext, request: Request) -> None:
    """The org's first request provisions its default definition (unless its creation event
    did already)."""
    provisioning: Provisioning = request.app.state.provisioning
    await provisioning.ensure(ctx)


async def _definition_handlers(request: Request) -> DefinitionHandlers:
    return request.app.state.definition_handlers


async def _definition_queries(request: Request) -> DefinitionQueries:
    return request.app.state.definition_queries


DefinitionCommands = Annotated[DefinitionHandlers, Depends(_definition_handlers)]
DefinitionReads = Annotated[DefinitionQueries, Depends(_definition_queries)]


async def _case_handlers(request: Request) -> CaseHandlers:
    return request.app.state.case_handlers


async def _case_queries(request: Request) -> CaseQueries:
    return request.app.state.case_queries


CaseCommands = Annotated[CaseHandlers, Depends(_case_handlers)]
CaseReads = Annotated[CaseQueries, Depends(_case_queries)]


async def _live_states(request: Request) -> LiveStates:
    return request.app.state.live_states


LiveReads = Annotated[LiveStates, Depends(_live_states)]


async def _note_handlers(request: Request) -> NoteHandlers:
    return request.app.state.note_handlers


async def _activity_queries(request: Request) -> ActivityQueries:
    return request.app.state.activity_queries


NoteCommands = Annotated[NoteHandlers, Depends(_note_handlers)]
ActivityReads = Annotated[ActivityQueries, Depends(_activity_queries)]
