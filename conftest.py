pytest_plugins = ["byte_testing.plugin"]

# Property tests run beside a whole stack on a busy machine: a per-example deadline measures
# the machine, not the code (the brief: no timing thresholds in tests). No example database
# in the checkout either.
from hypothesis import settings  # noqa: E402

settings.register_profile("byte", deadline=None, database=None)
settings.load_profile("byte")
