"""The shared input types refuse what PostgreSQL cannot store, naming where it is; the platform's
HTTP layer turns that into problem+json and documents it. In process: no stack needed."""

import base64
import json
import math
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from byte_platform.http import PROBLEM_JSON, PROBLEM_STATUSES, base_app
from byte_platform.pagination import BadCursor, Keyset, decode_cursor, encode_cursor, parse_time
from byte_platform.validation import (
    MAX_JSON_DEPTH,
    AwareDatetime,
    IsoDate,
    JsonObject,
    SafeText,
    StorableText,
    json_problems,
    unstorable,
)
from fastapi import APIRouter, Query
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
STORABLE_CHARS = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")


def errors_of(adapter: TypeAdapter, value: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    return caught.value.errors()


def nested(depth: int) -> dict[str, Any]:
    """`{"a": {"a": ... 1}}` with `depth` objects, built without recursion."""
    doc: Any = 1
    for _ in range(depth):
        doc = {"a": doc}
    return doc


# --- text --------------------------------------------------------------------------------------


@given(st.text(STORABLE_CHARS))
def test_any_text_without_nul_or_lone_surrogates_is_storable(text):
    assert unstorable(text) is None
    assert TypeAdapter(SafeText).validate_python(text) == text


@given(st.text(), st.sampled_from(["\x00", "\ud800", "\udfff", "\udc00"]), st.text())
def test_nul_and_lone_surrogates_anywhere_are_refused(before, bad, after):
    assert unstorable(before + bad + after) is not None
    [error] = errors_of(TypeAdapter(SafeText), before + bad + after)
    assert error["type"] == "text_unstorable"


def test_a_surrogate_pair_written_as_one_character_is_fine():
    assert unstorable("\U0001f600") is None


def test_constraints_still_apply_with_the_marker_after_them():
    Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=3), StorableText]
    assert TypeAdapter(Name).validate_python("  ab  ") == "ab"
    assert errors_of(TypeAdapter(Name), "   ")[0]["type"] == "string_too_short"
    assert errors_of(TypeAdapter(Name), " a\x00 ")[0]["type"] == "text_unstorable"


# --- JSON documents ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_numbers_json_cannot_hold_are_refused_where_they_are(text):
    document = json.loads(f'{{"a": [1, {{"b": {text}}}]}}')
    [error] = errors_of(TypeAdapter(JsonObject), document)
    assert error["loc"] == ("a", 1, "b") and "finite" in error["msg"]


def test_nul_and_surrogates_in_keys_and_values_are_refused_where_they_are():
    document = json.loads('{"k\\u0000": 1, "ok": ["x", "\\ud800"], "v": "a\\u0000", "\\udc00": 2}')
    found = {e["loc"]: e["msg"] for e in errors_of(TypeAdapter(JsonObject), document)}
    # keys in locations are escaped, so that they can be shown
    assert set(found) == {("k\\u0000",), ("ok", 1), ("v",), ("\\udc00",)}
    assert found[("k\\u0000",)].startswith("key ")


def test_depth_is_bounded_and_said():
    assert TypeAdapter(JsonObject).validate_python(nested(MAX_JSON_DEPTH)) == nested(MAX_JSON_DEPTH)
    [error] = errors_of(TypeAdapter(JsonObject), nested(MAX_JSON_DEPTH + 1))
    assert f"deeper than {MAX_JSON_DEPTH}" in error["msg"]
    assert error["loc"] == ("a",) * MAX_JSON_DEPTH


def test_a_document_deeper_than_the_stack_is_walked_without_recursion():
    assert json_problems(nested(100_000), max_depth=MAX_JSON_DEPTH)


def test_size_is_bounded():
    [error] = errors_of(TypeAdapter(JsonObject), {"blob": "x" * 20_000})
    assert error["type"] == "json_too_large" and error["loc"] == ()


def test_not_an_object_is_left_to_the_dict_validator():
    assert errors_of(TypeAdapter(JsonObject), [])[0]["type"] == "dict_type"


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(STORABLE_CHARS)
)


@settings(max_examples=60)
@given(
    st.dictionaries(
        st.text(STORABLE_CHARS),
        st.recursive(
            JSON_LEAVES,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(STORABLE_CHARS), inner, max_size=4),
            max_leaves=20,
        ),
        max_size=5,
    )
)
def test_storable_json_round_trips(document):
    assert TypeAdapter(JsonObject).validate_python(document) == document


@settings(max_examples=60)
@given(
    st.recursive(
        st.floats().filter(lambda f: not math.isfinite(f)) | SURROGATES | st.just("\x00"),
        lambda inner: (
            st.lists(inner, min_size=1, max_size=3)
            | st.dictionaries(st.text(STORABLE_CHARS), inner, min_size=1, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_anything_unstorable_anywhere_is_found(poison):
    assert json_problems({"x": poison})


# --- time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        12,
        12.5,
        True,
        "12",
        "1700000000",
        "2026-01-01",
        "2026-01-01T09:00:00",
        "tomorrow",
        "2026-W01-1T00:00Z",
        "2026-01-01T09:00:00+25:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:00:00-05:00",
        "2026-01-01\x0009:00Z",
        None,
    ],
)
def test_only_iso_8601_times_with_a_zone_pass(value):
    adapter = TypeAdapter(AwareDatetime)
    assert errors_of(adapter, value)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-01-31T09:00:00Z", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        (
            "2026-01-31T09:00:00.123456+01:00",
            datetime(2026, 1, 31, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
        ),
        ("2026-01-31 09:00-0500", datetime(2026, 1, 31, 14, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)),
    ],
)
def test_iso_8601_times_with_a_zone_pass(value, expected):
    assert TypeAdapter(AwareDatetime).validate_python(value) == expected


def test_a_naive_datetime_object_is_refused_too():
    assert errors_of(TypeAdapter(AwareDatetime), datetime(2026, 1, 31))


@pytest.mark.parametrize(
    "value", ["0", 0, "20260131", "2026-01-31T00:00:00Z", "2026-02-30", "0000-01-01", "2026-W05", None]
)
def test_only_calendar_dates_pass_as_dates(value):
    assert errors_of(TypeAdapter(IsoDate), value)


def test_a_calendar_date_passes():
    assert TypeAdapter(IsoDate).validate_python("2026-01-31") == date(2026, 1, 31)
    assert TypeAdapter(IsoDate).validate_python(date(2026, 1, 31)) == date(2026, 1, 31)


# --- cursors -----------------------------------------------------------------------------------


def forged(sort: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "\ud800", "a\x00"])
def test_cursors_that_decode_to_unstorable_values_are_bad_cursors(value):
    with pytest.raises(BadCursor):
        decode_cursor(forged("position", [value, str(uuid.uuid4())]), "position", 2)


def test_a_cursor_with_1e999_is_a_bad_cursor():
    raw = f'{{"s":"position","v":[1e999,"{uuid.uuid4()}"]}}'.encode()
    with pytest.raises(BadCursor):
        decode_cursor(base64.urlsafe_b64encode(raw).decode(), "position", 2)


def test_a_deeply_nested_cursor_is_a_bad_cursor():
    raw = ('{"s":"x","v":' + "[" * 5000 + "]" * 5000 + "}").encode()
    with pytest.raises(BadCursor):
        decode_cursor(base64.urlsafe_b64encode(raw).decode(), "x", 2)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "12", 12, "2026-01-01T00:00:00"])
def test_cursor_times_are_aware_iso_8601_in_range(value):
    with pytest.raises((ValueError, TypeError)):
        parse_time(value)


def test_issued_time_cursors_still_decode():
    import sqlalchemy as sa

    column = sa.column("created_at", sa.DateTime(timezone=True))
    keyset = Keyset(column, sa.column("id"), True, "-created_at", parse_time)
    at = datetime(2026, 1, 31, 9, 0, 0, 123456, tzinfo=UTC)
    value, _ = decode_cursor(encode_cursor("-created_at", [at.isoformat(), str(uuid.uuid4())]), "-created_at", 2)
    assert keyset.parse(value) == at


# --- over HTTP: problem+json naming the field, and the OpenAPI document saying so --------------


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1), StorableText]
    when: AwareDatetime | None = None
    metadata: JsonObject = {}


def make_app():
    @asynccontextmanager
    async def lifespan(app):
        yield

    router = APIRouter(prefix="/v1/things")

    @router.post("", status_code=201)
    async def create(thing: Thing) -> Thing:
        return thing

    @router.get("/{thing_id}")
    async def get(thing_id: uuid.UUID, q: Annotated[str | None, Query()] = None) -> dict:
        return {"id": str(thing_id), "q": q}

    @router.get("/by-name/{name}")
    async def by_name(name: str) -> dict:
        return {"name": name}

    app = base_app(title="things", version="1", lifespan=lifespan)
    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def http():
    with TestClient(make_app(), raise_server_exceptions=True) as client:
        yield client


def post_raw(http, text: str):
    return http.post("/v1/things", content=text.encode(), headers={"content-type": "application/json"})


def fields_of(response) -> list[str]:
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.text
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    "body,field",
    [
        ('{"name": "a\\u0000"}', "name"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "a", "when": 12}', "when"),
        ('{"name": "a", "metadata": {"x": NaN}}', "metadata.x"),
        ('{"name": "a", "metadata": {"x": [Infinity]}}', "metadata.x.0"),
        ('{"name": "a", "metadata": {"k\\u0000": 1}}', "metadata.k\\u0000"),
        ('{"name": "a", "metadata": {"\\ud800": 1}}', "metadata.\\ud800"),
        ('{"name": "a", "metadata": ' + '{"a":' * 300 + "1" + "}" * 300 + "}", "metadata" + ".a" * MAX_JSON_DEPTH),
        ('{"\\ud800": 1, "name": "a"}', "body"),
        ('{"name": "a",', "body"),
    ],
)
def test_bodies_are_refused_naming_the_field(http, body, field):
    r = post_raw(http, body)
    assert r.status_code == 422
    assert field in fields_of(r)
    assert all(e["in"] == "body" for e in r.json()["errors"])


def test_a_body_nested_past_python_limits_is_a_400_naming_the_body(http):
    r = post_raw(http, '{"name": "a", "metadata": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}")
    assert r.status_code == 400 and fields_of(r) == ["body"]


# a fixed id: parameters must be the same in every collecting process (pytest-xdist)
THING = "6fe1ab8c-37fb-47b6-a347-256a4686c1a2"


@pytest.mark.parametrize(
    "url,field,where",
    [
        (f"/v1/things/{THING}?q=a%00b", "q", "query"),
        (f"/v1/things/{THING}?a%00=b", "a\\u0000", "query"),
        (f"/v1/things/{THING}?other=%00", "other", "query"),
        ("/v1/things/by-name/a%00b", "name", "path"),
        ("/v1/things/%00", "thing_id", "path"),
    ],
)
def test_query_parameters_and_path_segments_are_refused_naming_them(http, url, field, where):
    r = http.get(url)
    assert r.status_code == 422
    assert [(e["field"], e["in"]) for e in r.json()["errors"]] == [(field, where)]


@pytest.mark.parametrize("segment", ["K%0C", "a%20b", "%ED%A0%80", "%FF"])
def test_odd_path_segments_are_problems(http, segment):
    r = http.get(f"/v1/things/{segment}")
    assert r.status_code == 422 and fields_of(r) == ["thing_id"]


def test_the_openapi_document_describes_problems_on_every_operation(http):
    doc = http.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(doc)
    problem = doc["components"]["schemas"]["Problem"]
    assert {"title", "status"} <= set(problem["required"]) and "errors" in problem["properties"]
    operations = [op for item in doc["paths"].values() for op in item.values()]
    assert len(operations) == 3
    for operation in operations:
        for status in PROBLEM_STATUSES:
            assert operation["responses"][str(status)]["content"] == {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
    assert doc["components"]["schemas"]["FieldError"]["required"] == ["field", "in", "message"]


def test_the_problems_answered_fit_the_documented_schema(http):
    import jsonschema_rs

    doc = http.get("/openapi.json").json()
    schema = {**doc["components"]["schemas"]["Problem"], "components": doc["components"]}
    for r in [
        post_raw(http, '{"name": "\\ud800"}'),
        http.get("/v1/things/x?q=%00"),
        http.get("/nowhere"),
        post_raw(http, '{"a":' * 5000 + "1" + "}" * 5000),
    ]:
        assert r.status_code >= 400
        jsonschema_rs.validate(schema, r.json())
