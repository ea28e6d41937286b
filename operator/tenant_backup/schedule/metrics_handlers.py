"""Kopf registrations feeding the schedule metrics (served by `backup.metrics_handlers`)."""

from typing import Any

import kopf
import prometheus_client

from tenant_backup.api import kinds
from tenant_backup.schedule.metrics import ScheduleMetrics

METRICS = ScheduleMetrics(prometheus_client.REGISTRY)


@kopf.on.event(
    kinds.GROUP, kinds.VERSION, kinds.TENANT_BACKUP_SCHEDULE.plural, id="metrics-schedules"
)
async def schedule_event(
    type: str, namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> None:
    """Track every schedule's status."""
    if namespace is None:
        return
    if type == "DELETED":
        METRICS.gone(namespace, name)
    else:
        METRICS.seen(namespace, name, body)
