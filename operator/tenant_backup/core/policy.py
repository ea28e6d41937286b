"""Pure: which tenants a namespace may back up, as a platform admin declared on the Namespace.

The list lives in an annotation of the Namespace object: namespaces are cluster-scoped, so
the users of a namespace (even its `admin`) cannot edit it; only cluster admins can.
"""

import re
from collections.abc import Mapping

from tenant_backup.api.kinds import GROUP

ALLOWED_TENANTS_ANNOTATION = f"{GROUP}/allowed-tenants"
ANY_TENANT = "*"


def allowed_tenants(annotations: Mapping[str, str] | None) -> frozenset[str]:
    """The tenants listed in the annotation (comma or space separated); empty when absent."""
    listed = (annotations or {}).get(ALLOWED_TENANTS_ANNOTATION, "")
    return frozenset(item for item in re.split(r"[\s,]+", listed) if item)


def tenant_problem(
    namespace: str, annotations: Mapping[str, str] | None, tenant: str
) -> str | None:
    """Why namespace `namespace` may not back up `tenant`, or None when it may."""
    allowed = allowed_tenants(annotations)
    if ANY_TENANT in allowed or tenant in allowed:
        return None
    if not allowed:
        return (
            f"namespace {namespace} may back up no tenant: a cluster admin must list its "
            f"tenants in the Namespace annotation {ALLOWED_TENANTS_ANNOTATION}"
        )
    return (
        f"tenant {tenant} is not allowed in namespace {namespace} (annotation "
        f"{ALLOWED_TENANTS_ANNOTATION} lists: {', '.join(sorted(allowed))})"
    )
