"""Our API group and the names of each kind in it."""

from dataclasses import dataclass

GROUP = "tenantbackup.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Kind:
    """One kind's names, as its CRD declares them and the API paths use them."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]

    @property
    def crd_name(self) -> str:
        """`<plural>.<group>`."""
        return f"{self.plural}.{GROUP}"


TENANT_BACKUP = Kind("TenantBackup", "tenantbackups", "tenantbackup", ("tb",))
TENANT_BACKUP_SCHEDULE = Kind(
    "TenantBackupSchedule", "tenantbackupschedules", "tenantbackupschedule", ("tbs",)
)
TENANT_RESTORE = Kind("TenantRestore", "tenantrestores", "tenantrestore", ("tr",))
TENANT_BACKUP_POD_CONFIG = Kind(
    "TenantBackupPodConfig", "tenantbackuppodconfigs", "tenantbackuppodconfig", ("tbpc",)
)
