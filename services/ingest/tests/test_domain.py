"""Formstack rules without I/O: parsing both encodings and every key style, signatures, mappings."""

import json
from urllib.parse import urlencode

import pytest
from byte_contracts.errors import Invalid
from byte_ingest import domain
from byte_ingest.domain import FieldMapping as M


def test_urlencoded_field_ids_with_sub_field_lines_and_a_checkbox_list():
    body = urlencode(
        [
            ("FormID", "555"),
            ("UniqueID", "9001"),
            ("1001", "first = Zoë\nlast = Ñúñez"),
            ("1002", "zoe@example.com"),
            ("1003", "Days"),
            ("1003", "Nights"),
            ("1004", "address = 1 Main St\ncity = Macon\nstate = GA\nzip = 31201"),
        ]
    ).encode()
    delivery = domain.parse(body, "application/x-www-form-urlencoded; charset=UTF-8")
    assert (delivery.submission_id, delivery.form_id, delivery.handshake_key) == ("9001", "555", None)
    assert delivery.fields["1001"] == {"first": "Zoë", "last": "Ñúñez"}
    assert delivery.fields["1003"] == ["Days", "Nights"]
    mapped = domain.map_fields(
        delivery.fields,
        [
            M("1001", "contact.name"),
            M("1002", "contact.email"),
            M("1004", "contact.address"),
            M("1003", "metadata.shifts"),
        ],
    )
    assert mapped.applicant == {
        "first_name": "Zoë",
        "last_name": "Ñúñez",
        "email": "zoe@example.com",
        "address_line_1": "1 Main St",
        "city": "Macon",
        "state": "GA",
        "zip": "31201",
        "metadata": {"shifts": ["Days", "Nights"]},
    }
    assert mapped.unmapped == {}


def test_json_with_split_sub_field_keys_maps_by_the_default_labels_and_keeps_the_rest():
    body = json.dumps(
        {
            "FormID": 555,
            "UniqueID": 9002,
            "HandshakeKey": "hs",
            "Name (First)": "Grace",
            "Name (Last)": "Hopper",
            "Email": "grace@example.com",
            "Favourite colour": "blue",
        }
    ).encode()
    delivery = domain.parse(body, "application/json")
    assert (delivery.submission_id, delivery.handshake_key) == ("9002", "hs")
    mapped = domain.map_fields(delivery.fields, [])
    assert mapped.applicant == {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}
    assert mapped.unmapped == {"Favourite colour": "blue"}


def test_a_plain_answer_with_newlines_stays_text():
    delivery = domain.parse(
        urlencode({"FormID": "1", "UniqueID": "2", "Why": "I like\nhelping"}).encode(), domain.FORM_URLENCODED
    )
    assert delivery.fields["Why"] == "I like\nhelping"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\x00garbage", domain.FORM_URLENCODED),
        (b"{not json", domain.JSON),
        (b"[1, 2]", domain.JSON),
        (b"FormID=1", domain.FORM_URLENCODED),  # no UniqueID
        (b"FormID=1&UniqueID=2", "text/plain"),
        ("FormID=1&UniqueID=2".encode("utf-16"), domain.FORM_URLENCODED),
        (b"FormID=1&UniqueID=2", "application/x-www-form-urlencoded; charset=latin-1"),
    ],
)
def test_unreadable_bodies(body, content_type):
    with pytest.raises(domain.Unparsable):
        domain.parse(body, content_type)


def test_signatures_are_hmac_sha256_of_the_raw_body_under_any_current_key():
    body = b"FormID=1&UniqueID=2"
    domain.verify_signature(domain.signature("new-key", body), body, ["new-key"])
    domain.verify_signature(
        domain.signature("old-key", body).upper().replace("SHA256=", "sha256="), body, ["new-key", "old-key"]
    )
    for header in (None, "", "md5=abc", domain.signature("other", body), domain.signature("new-key", body + b" ")):
        with pytest.raises(domain.Unsigned):
            domain.verify_signature(header, body, ["new-key"])


def test_a_submission_that_names_no_one_is_refused_with_a_reason():
    with pytest.raises(Invalid, match="neither an email nor a name"):
        domain.map_fields({"1001": "hello"}, [M("1001", "metadata.note")])
    only_email = domain.map_fields({"e": "sam@example.com"}, [M("e", "contact.email")])
    assert only_email.applicant["first_name"] == "sam"


def test_targets_are_checked():
    domain.check_target("variable.shift", "x")
    for bad in ("contact.password", "variable.", "nowhere.x", "metadata.a b"):
        with pytest.raises(Invalid):
            domain.check_target(bad, "x")
