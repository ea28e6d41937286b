"""Shared pytest wiring: real components are started by the fixture plugins below."""

pytest_plugins = [
    "tests.support.cluster_fixtures",
    "tests.support.egress",
    "tests.support.postgres_fixtures",
    "tests.support.operator_fixtures",
    "tests.support.s3_fixtures",
]
