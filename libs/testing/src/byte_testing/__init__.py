"""Test support shared by every service's tests and the end-to-end suite.

Loaded as a pytest plugin from the repository's root conftest.py.
"""

from byte_testing.waiting import eventually

__all__ = ["eventually"]
