"""Which tenants a namespace may back up."""

import pytest

from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION, allowed_tenants, tenant_problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme", {"acme"}),
        ("acme,globex", {"acme", "globex"}),
        (" acme ,  globex\nacme_eu ", {"acme", "globex", "acme_eu"}),
        ("", set()),
        (",,", set()),
    ],
)
def test_allowed_tenants_parses_commas_and_spaces(value: str, expected: set[str]) -> None:
    assert allowed_tenants({ALLOWED_TENANTS_ANNOTATION: value}) == expected


def test_listed_tenant_and_wildcard_are_allowed() -> None:
    assert tenant_problem("a", {ALLOWED_TENANTS_ANNOTATION: "globex,acme"}, "acme") is None
    assert tenant_problem("a", {ALLOWED_TENANTS_ANNOTATION: "*"}, "acme") is None


def test_prefix_of_a_listed_tenant_is_not_allowed() -> None:
    problem = tenant_problem("team-a", {ALLOWED_TENANTS_ANNOTATION: "acme_eu"}, "acme")
    assert problem is not None
    assert "tenant acme is not allowed in namespace team-a" in problem
    assert "acme_eu" in problem


@pytest.mark.parametrize("annotations", [None, {}, {"other": "acme"}])
def test_no_annotation_allows_nothing(annotations: dict[str, str] | None) -> None:
    problem = tenant_problem("team-a", annotations, "acme")
    assert problem is not None
    assert ALLOWED_TENANTS_ANNOTATION in problem
