"""Request metrics: the series and labels the instrumentator wrote, per route template."""

import uuid

import httpx
from byte_platform.http import base_app, install_health
from byte_platform.runtime import Runtime
from byte_platform.settings import ServiceSettings
from byte_testing.http import metric_value
from fastapi import APIRouter


def app_with_routes(prefix: str):
    router = APIRouter(prefix=prefix)

    @router.get("/{item_id}")
    async def one(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @router.post("")
    async def create() -> dict[str, str]:
        return {"id": "new"}

    @router.get("/{item_id}/broken")
    async def broken(item_id: str) -> None:
        raise RuntimeError("a bug")

    app = base_app(title="t", version="0", lifespan=None)
    app.include_router(router)
    install_health(app, Runtime(ServiceSettings()))
    return app


async def test_requests_are_counted_by_route_template_method_and_status_class():
    # a prefix of its own: the metrics are process-wide, other tests' requests are not counted here
    prefix = f"/v1/m{uuid.uuid4().hex[:8]}"
    template = f"{prefix}/{{item_id}}"
    app = app_with_routes(prefix)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for item in ("a", "b"):
            assert (await client.get(f"{prefix}/{item}")).status_code == 200
        assert (
            await client.post(prefix, content=b"{}", headers={"content-type": "application/json"})
        ).status_code == 200
        assert (await client.delete(f"{prefix}/a")).status_code == 405  # the path's template, method refused
        assert (await client.get(f"{prefix}/a/broken")).status_code == 500
        assert (await client.get(f"/nothing-{uuid.uuid4().hex}")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
        page = (await client.get("/metrics")).text

    def count(**labels: str) -> float:
        return metric_value(page, "http_requests_total", **labels)

    assert count(handler=template, method="GET", status="2xx") == 2
    assert count(handler=prefix, method="POST", status="2xx") == 1
    assert count(handler=template, method="DELETE", status="4xx") == 1
    assert count(handler=f"{template}/broken", method="GET", status="5xx") == 1
    assert count(handler="/healthz") == 0 and count(handler="/metrics") == 0
    assert count(handler="none", method="GET", status="4xx") >= 1  # no route: one label for all such paths
    assert metric_value(page, "http_request_duration_seconds_count", handler=template, method="GET") == 2
    assert metric_value(page, "http_request_size_bytes_sum", handler=prefix) == 2  # the declared length
    assert metric_value(page, "http_response_size_bytes_sum", handler=prefix) == len(b'{"id":"new"}')
    assert metric_value(page, "http_request_duration_highr_seconds_count") >= 5
