"""Which namespaces the operator serves from its `--namespace` values (Kopf's syntax)."""

import pytest

from tenant_backup.core.namespaces import exact, served


def test_plain_names_are_listed_one_by_one_and_anything_else_is_a_pattern() -> None:
    assert exact(["team-a", "team-b"])
    for value in ("team-*", "team-?", "!kube-system", "team-a,team-b", "team-[ab]"):
        assert not exact(["team-a", value])


@pytest.mark.parametrize(
    ("namespace", "values", "expected"),
    [
        ("anything", [], True),
        ("team-a", ["team-a"], True),
        ("team-ab", ["team-a"], False),
        ("team-a", ["team-*"], True),
        ("other", ["team-*", "other"], True),
        ("kube-system", ["!kube-*"], False),
        ("team-a", ["!kube-*"], True),
        ("myapp-live", ["myapp-*, !*-pr-*, *pr-123"], True),
        ("myapp-pr-123", ["myapp-*, !*-pr-*, *pr-123"], True),
        ("myapp-pr-456", ["myapp-*, !*-pr-*, *pr-123"], False),
        ("otherapp-pr-123", ["myapp-*, !*-pr-*, *pr-123"], False),
        ("otherapp-pr-123", ["!*-pr-*, *pr-123"], True),
        ("Team-A", ["team-*"], False),
    ],
)
def test_a_namespace_is_served_when_one_value_matches_it(
    namespace: str, values: list[str], expected: bool
) -> None:
    assert served(namespace, values) is expected
