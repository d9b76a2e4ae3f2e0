"""Pages anyone may read: the seasons, a season with its diary, its live progress, share links,
diary photos and a farm's public ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from gongchuang.adoption import service
from gongchuang.adoption.pages._common import labels, share_block
from gongchuang.core.api import live_stream
from gongchuang.core.errors import NotFound
from gongchuang.core.web import (
    CurrentPrincipal,
    DbSession,
    Id,
    get_database,
    redirect,
    render,
    site_url,
)

router = APIRouter(include_in_schema=False)
Via = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{6,16}$")]


@router.get("/adoption", response_class=HTMLResponse)
def offerings(request: Request, session: DbSession) -> HTMLResponse:
    return render(
        request,
        "adoption/list.html",
        {**labels(), "offerings": service.public_offerings(session)},
    )


@router.get("/adoption/offerings/{offering_id}", response_class=HTMLResponse)
def offering_page(
    request: Request,
    offering_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    via: Via = None,
) -> HTMLResponse:
    offering, field, farm = service.offering_detail(
        session, service.public_offering(session, offering_id)
    )
    link = next(
        (
            link
            for link, of in service.share_links_of(session, principal.person_id or 0)
            if of.id == offering.id
        ),
        None,
    )
    return render(
        request,
        "adoption/offering.html",
        {
            **labels(),
            **(share_block(site_url(request), link.code) if link else {}),
            "offering": offering,
            "field": field,
            "farm": farm,
            "progress": service.progress(session, offering),
            "posts": service.posts(session, offering.id),
            "via": via or "",
            "can_manage": principal.is_authenticated
            and service.can_manage(session, principal, offering),
        },
    )


@router.get("/adoption/offerings/{offering_id}/figures", response_class=HTMLResponse)
def figures(request: Request, offering_id: Id, session: DbSession) -> HTMLResponse:
    """The progress figures alone: swapped into the open page whenever they change."""
    offering = service.public_offering(session, offering_id)
    return render(
        request,
        "adoption/_figures.html",
        {**labels(), "offering": offering, "progress": service.progress(session, offering)},
    )


@router.get("/adoption/offerings/{offering_id}/diary", response_class=HTMLResponse)
def diary(request: Request, offering_id: Id, session: DbSession) -> HTMLResponse:
    offering = service.public_offering(session, offering_id)
    return render(request, "adoption/_diary.html", {"posts": service.posts(session, offering.id)})


@router.get("/adoption/offerings/{offering_id}/stream", response_class=StreamingResponse)
async def progress_stream(request: Request, offering_id: Id) -> StreamingResponse:
    """The season's figures as they change (Server-Sent Events). Public, as the figures are:
    the core only streams a person's own channels, so the season's is served here."""

    def check() -> None:
        # Off the event loop: a database wait here must not stall every other request.
        with get_database(request).transaction(write=False) as session:
            service.public_offering(session, offering_id)

    await run_in_threadpool(check)
    return live_stream(request, service.channel(offering_id))


@router.get("/adoption/offerings/{offering_id}/progress", response_class=HTMLResponse)
def progress_page(request: Request, offering_id: Id, session: DbSession) -> HTMLResponse:
    offering, field, farm = service.offering_detail(
        session, service.public_offering(session, offering_id)
    )
    return render(
        request,
        "adoption/progress.html",
        {
            **labels(),
            "offering": offering,
            "field": field,
            "farm": farm,
            "progress": service.progress(session, offering),
        },
    )


@router.get("/adoption/s/{code}")
def shared(
    code: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{6,16}$")], session: DbSession
) -> Response:
    link = service.share_link_by_code(session, code)
    if link is None:
        raise NotFound()
    return redirect(f"/adoption/offerings/{link.offering_id}?via={link.code}", status_code=302)


@router.get("/adoption/diary/{post_id}/photos/{index}")
def diary_photo(
    post_id: Id, index: Annotated[int, Path(ge=0, le=8)], session: DbSession
) -> Response:
    stored, data = service.diary_photo(session, post_id, index)
    return Response(
        data, media_type=stored.content_type, headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/adoption/farms/{farm_id}/ledger", response_class=HTMLResponse)
def public_ledger(
    request: Request,
    farm_id: Id,
    session: DbSession,
    offering: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    return render(
        request,
        "adoption/ledger.html",
        {**labels(), "ledger": service.ledger(session, farm_id, offering), "offering_id": offering},
    )
