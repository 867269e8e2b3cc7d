pytest_plugins = ["byte_testing.plugin"]
