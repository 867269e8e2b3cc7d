import pytest
from byte_contacts.domain import Sort, changes, normalize_tags, parse_sort


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
