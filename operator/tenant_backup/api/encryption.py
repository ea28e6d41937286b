"""Client-side encryption of artifacts with age: the recipients a backup encrypts to, the
identity a restore decrypts with, and what status says about an encrypted artifact."""

from typing import Annotated

from pydantic import ConfigDict, Field

from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.contract import (
    AGE_FINGERPRINT_PATTERN,
    AGE_RECIPIENT_PATTERN,
    MAX_AGE_RECIPIENTS,
    Encryption,
)
from tenant_backup.api.references import ResourceName

KEY_NAME_PATTERN = r"^[-._a-zA-Z0-9]+$"
DEFAULT_RECIPIENTS_KEY = "recipients"
DEFAULT_IDENTITY_KEY = "identity"

AgeRecipient = Annotated[str, Field(max_length=62, pattern=AGE_RECIPIENT_PATTERN)]
SecretKeyName = Annotated[str, Field(min_length=1, max_length=253, pattern=KEY_NAME_PATTERN)]


class RecipientsSecretReference(ApiModel):
    """A Secret key holding age recipients, one `age1...` a line (`#` comments and blank
    lines ignored: age's `-R` file)."""

    name: ResourceName
    key: SecretKeyName = DEFAULT_RECIPIENTS_KEY


class IdentitySecretReference(ApiModel):
    """A Secret key holding age identities (`AGE-SECRET-KEY-1...`, as `age-keygen` writes
    them): mounted as a file for the restore's runner only."""

    name: ResourceName
    key: SecretKeyName = DEFAULT_IDENTITY_KEY


class AgeEncryption(ApiModel):
    """Encrypt to age X25519 recipients: any one of their identities decrypts."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "(has(self.recipients) && size(self.recipients) > 0) "
                "|| has(self.recipientsSecretRef)",
                "name recipients, a recipientsSecretRef, or both",
            )
        )
    )

    recipients: Annotated[list[AgeRecipient], Field(max_length=MAX_AGE_RECIPIENTS)] = Field(
        default_factory=list
    )
    """Public keys (`age1...`, from `age-keygen -y`): not secret, so inline."""
    recipients_secret_ref: RecipientsSecretReference | None = None
    """More recipients from a Secret (mounted as a file into the dump Job), e.g. one list
    kept by a security team for many namespaces' backups."""


class EncryptionSpec(ApiModel):
    """How the artifact is encrypted in the dump container, after compression and before
    any byte leaves the pod."""

    age: AgeEncryption


class Decryption(ApiModel):
    """How a restore decrypts an encrypted artifact."""

    identity_secret_ref: IdentitySecretReference
    """The Secret key holding the identity (the private key): mounted as a file into the
    restore's Job, never an environment variable or argument."""


class ArtifactEncryption(ApiModel):
    """An encrypted artifact: to whom. Fingerprints, not keys: the first 16 hex digits of the
    SHA-256 of each recipient's text (`printf %s age1... | sha256sum | cut -c1-16`)."""

    scheme: Encryption = Encryption.AGE
    recipients: Annotated[
        list[Annotated[str, Field(pattern=AGE_FINGERPRINT_PATTERN)]],
        Field(max_length=MAX_AGE_RECIPIENTS),
    ] = Field(default_factory=list)
