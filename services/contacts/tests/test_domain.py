import pytest
from byte_contacts.domain import Sort, changes, merged, normalize_tags, parse_sort


def test_sort_parsing():
    assert parse_sort("-created_at") == (Sort.CREATED_AT, True)
    assert parse_sort("last_name") == (Sort.LAST_NAME, False)
    with pytest.raises(ValueError):
        parse_sort("password")


def test_tags_dedupe_case_insensitively_keeping_first_spelling():
    assert normalize_tags(["VIP", "vip", "deputy", "Deputy", "x"]) == ["VIP", "deputy", "x"]


def test_changes_keep_only_what_differs():
    current = {"first_name": "Ann", "phone": None, "tags": ["a"], "metadata": {"k": 1}}
    assert changes(current, {"first_name": "Ann", "phone": "555", "tags": ["a", "A"]}) == {"phone": "555"}
    assert changes(current, {"metadata": {"k": 2}}) == {"metadata": {"k": 2}}
    assert changes(current, {}) == {}


def test_a_merge_keeps_the_survivors_values_and_fills_what_it_lacks():
    survivor = {
        "first_name": "Pat",
        "last_name": "",
        "email": "pat@example.com",
        "phone": None,
        "city": "Macon",
        "tags": ["vip"],
        "metadata": {"source": "walk-in", "shift": "days"},
        "last_contacted_at": None,
    }
    duplicate = {
        "first_name": "Patricia",
        "last_name": "Doe",
        "email": "patricia@example.com",
        "phone": "478-555-0199",
        "address_line_1": "1 Main St",
        "city": "Atlanta",
        "zip": "30301",
        "tags": ["VIP", "deputy"],
        "metadata": {"shift": "nights", "referral": "friend"},
        "last_contacted_at": "2026-01-02T00:00:00+00:00",
    }
    assert merged(survivor, duplicate) == {
        "last_name": "Doe",
        "phone": "478-555-0199",
        "tags": ["vip", "deputy"],
        "metadata": {"shift": "days", "referral": "friend", "source": "walk-in"},
        "last_contacted_at": "2026-01-02T00:00:00+00:00",
    }
    # an address comes whole, when the survivor has none at all
    assert merged({**survivor, "city": None}, duplicate)["zip"] == "30301"
    assert merged({**survivor, "city": None}, duplicate)["address_line_1"] == "1 Main St"
    # nothing to add: nothing changes
    assert merged(duplicate, {"first_name": "P", "tags": [], "metadata": {}}) == {}
