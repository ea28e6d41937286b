"""The API: the committed CRD is what the models generate; slugs are strict."""

from pathlib import Path, PurePosixPath

import pytest

from tenant_backup.api.backup import TenantBackupSpec
from tenant_backup.api.contract import (
    ArtifactLocation,
    ArtifactUrlError,
    FileLocation,
    PvcLocation,
    S3Location,
    TelegramLocation,
    parse_artifact_url,
)
from tenant_backup.api.crd import SOURCES, CrdSource, render_yaml
from tenant_backup.core import naming

CRD_DIR = Path(__file__).parents[2] / "crds"


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.kind.kind)
def test_committed_crd_matches_the_models(source: CrdSource) -> None:
    committed = (CRD_DIR / source.file_name).read_text()
    assert committed == render_yaml(source), "crds/ drifted from the models: run make crds"


@pytest.mark.parametrize(
    "slug", ["Acme", "a'b", "a;b", "$(id)", "a b", "a*", "a?", "a.b", "..", "_acme", "a" * 57, ""]
)
def test_bad_slugs_are_rejected_by_runner_and_model(slug: str) -> None:
    with pytest.raises(naming.InvalidSlugError):
        naming.schema_name(slug)
    with pytest.raises(ValueError, match="tenant"):
        TenantBackupSpec.model_validate(
            {
                "tenant": slug,
                "database": {"secretRef": {"name": "s"}},
                "destination": {"pvc": {"claimName": "c"}},
            }
        )


@pytest.mark.parametrize("slug", ["acme", "acme_eu", "0day", "a" * 56])
def test_good_slugs_name_their_schema(slug: str) -> None:
    assert naming.schema_name(slug) == f"tenant_{slug}"
    assert len(naming.schema_name(slug).encode()) <= 63


def test_model_defaults_match_what_the_api_server_fills_in() -> None:
    spec = TenantBackupSpec.model_validate(
        {
            "tenant": "acme",
            "database": {"secretRef": {"name": "s"}},
            "destination": {"pvc": {"claimName": "c"}},
        }
    )
    assert spec.retry.max_attempts == 3
    assert spec.dump.compression.value == "zstd"
    assert spec.timeouts.active_deadline_seconds == 3600


@pytest.mark.parametrize(
    "location",
    [
        PvcLocation("backups", "nightly/acme/a.pgdump.zst"),
        S3Location("bucket", "prefix/acme/a.pgdump.zst"),
        TelegramLocation("-1001234567890", 42),
        TelegramLocation("@channel"),
        FileLocation(PurePosixPath("/backups/a b.sql")),
    ],
)
def test_artifact_urls_parse_back(location: ArtifactLocation) -> None:
    assert parse_artifact_url(location.url) == location


@pytest.mark.parametrize(
    "url",
    [
        "pvc://backups/../etc/passwd",
        "pvc://backups/",
        "s3://bucket",
        "s3:///key",
        "telegram://-100/abc",
        "file://host/x",
        "http://example.com/a",
        "s3://bucket/key?versionId=1",
    ],
)
def test_foreign_urls_are_refused(url: str) -> None:
    with pytest.raises(ArtifactUrlError):
        parse_artifact_url(url)
