"""What each reason of `reasons.py` means to the person reading it: its cause and the fix.
docs/troubleshooting.md is generated from this (`make docs`; `make lint` checks it)."""

from dataclasses import dataclass
from enum import StrEnum

from tenant_backup.api.reasons import (
    DeletionReason,
    FollowUpReason,
    Reason,
    RestoreReason,
    ScheduleReason,
    SizeReason,
    VerificationReason,
    VerifiedReason,
)


@dataclass(frozen=True)
class Guide:
    """Why a reason appears, and what to do about it (empty `fix`: nothing to do)."""

    cause: str
    fix: str = ""


GUIDES: dict[StrEnum, Guide] = {
    # Reason: progress.
    Reason.CREATED: Guide("Not written by the current operator (kept in the vocabulary)."),
    Reason.JOB_CREATED: Guide(
        "An attempt's Job was created; its pod runs the dump (or restore) now."
    ),
    Reason.RETRY_SCHEDULED: Guide(
        "An attempt failed with a transient reason; the next starts at `status.nextAttemptTime` "
        "(backoff `retry.backoffSeconds`, doubling up to `retry.maxBackoffSeconds`).",
        "Read the previous attempt's reason in `status.attemptHistory`; fix its cause to make "
        "the next attempt succeed.",
    ),
    Reason.QUEUED: Guide(
        "The Job may not start yet: the operator's `maxRunningJobs` (in total) or "
        "`maxRunningJobsPerServer` (per database server) is reached, or another backup or "
        "restore of the same tenant runs. The message says which.",
        "Wait; if backups queue for long, raise the limits (chart values "
        "`concurrency.maxRunningJobs`, `concurrency.maxRunningJobsPerServer`) or spread "
        "schedules (`spreadWindow`).",
    ),
    Reason.SUCCEEDED: Guide(
        "The artifact was written and read back (`status.artifact`); for a restore, the target "
        "schema holds the restored data and its checks passed."
    ),
    # Reason: permanent failures.
    Reason.VALIDATION_FAILED: Guide(
        "The runner refused its options: a value admission could not judge (a restore's check, "
        "an identity, a destination field) is invalid. The message names it.",
        "Correct the spec and create a new object (a failed object is not retried).",
    ),
    Reason.TENANT_NOT_FOUND: Guide(
        "The tenant's schema (`tenant_<tenant>`) does not exist in the Secret's database.",
        "Check `spec.tenant` and that the Secret's `dbname` is the database holding the tenant.",
    ),
    Reason.TENANT_NOT_ALLOWED: Guide(
        "The namespace may not back up or restore this tenant: its annotation "
        "`tenantbackup.dev/allowed-tenants` does not list it (nor `*`). No Job was created.",
        "A cluster admin annotates the namespace, e.g. `kubectl annotate ns NS "
        "tenantbackup.dev/allowed-tenants=acme`; then create the object again.",
    ),
    Reason.SECRET_MISSING: Guide(
        "The database Secret (`spec.database.secretRef`, or a restore's target Secret) does not "
        "exist in the object's namespace, or lacks one of `host`, `dbname`, `username`, "
        "`password`.",
        "Create the Secret with those keys in the same namespace (a Secret of another namespace "
        "is never read), then create the object again.",
    ),
    Reason.AUTH_FAILED: Guide(
        "PostgreSQL refused the login: wrong user or password, no `pg_hba.conf` entry for the "
        "Job's address, or a client certificate required.",
        "Check the Secret's `username`/`password` with `psql`; allow the pods' network in "
        "`pg_hba.conf`.",
    ),
    Reason.PERMISSION_DENIED: Guide(
        "The role may log in but not read everything of the tenant: no USAGE on the schema, no "
        "SELECT on a table (the message lists them), or row-level security hides rows.",
        "Grant the role USAGE on the schema and SELECT on its tables and sequences, and "
        "BYPASSRLS or ownership where tables use row-level security (docs/cloudnativepg.md).",
    ),
    Reason.VERSION_MISMATCH: Guide(
        "The server's PostgreSQL major is newer than the Job image's `pg_dump` (or a restore's "
        "`pg_restore` is older than the artifact).",
        "Use an operator image whose client tools are at least the server's major.",
    ),
    Reason.TLS_FAILED: Guide(
        "TLS to the database failed: the server's certificate (unknown CA, wrong host name), "
        "the client's, or a server without TLS while `sslMode` requires it. libpq's message "
        "says which.",
        "Give the CA in `spec.database.tls.caSecretRef` (CloudNativePG: `<cluster>-ca`), use the "
        "host name the certificate names, or lower `sslMode`.",
    ),
    Reason.EMPTY_DUMP: Guide(
        "pg_dump exited successfully but wrote nothing; no artifact is kept.",
        "Check that the role sees the tenant's objects (`\\dt tenant_<tenant>.*` as that role).",
    ),
    Reason.VERIFICATION_FAILED: Guide(
        "The artifact did not read back as written (`spec.verify`): it does not decompress or "
        "decrypt, pg_restore cannot list it, or its table of contents lacks the schema.",
        "Check the destination's storage; run the backup again. Repeated failures on one tenant "
        "are a bug worth reporting with the message.",
    ),
    Reason.DEADLINE_EXCEEDED: Guide(
        "An attempt ran longer than `timeouts.activeDeadlineSeconds`; Kubernetes stopped its Job.",
        "Raise `timeouts.activeDeadlineSeconds` for large tenants, or find what slowed the dump "
        "(locks, a slow destination).",
    ),
    # Reason: transient failures.
    Reason.DATABASE_UNAVAILABLE: Guide(
        "The database could not be reached or refused new connections: DNS, connection refused "
        "or timed out, server starting or shutting down, too many clients.",
        "Check the Secret's `host` and `port` from the namespace (a bare CloudNativePG service "
        "name is resolved there), NetworkPolicy egress of the Job's pods, `max_connections`.",
    ),
    Reason.LOCK_TIMEOUT: Guide(
        "pg_dump could not take its shared locks within `timeouts.lockWaitTimeoutSeconds`: a "
        "migration or long transaction holds an exclusive lock on a tenant table.",
        "Schedule backups away from migrations, or raise `timeouts.lockWaitTimeoutSeconds`.",
    ),
    Reason.DUMP_FAILED: Guide(
        "pg_dump failed for a reason not classified further; the message carries its words.",
        "Read the message (and the Job's pod log); it is retried.",
    ),
    Reason.DUMP_INTERRUPTED: Guide(
        "The runner was stopped by a signal mid-dump (node drain, pod deletion); nothing "
        "partial is kept.",
        "None usually: the next attempt runs.",
    ),
    Reason.DESTINATION_UNAVAILABLE: Guide(
        "The destination could not be reached or refused access: S3 endpoint, credentials or "
        "bucket; the claim; Telegram's API.",
        "Check the destination's Secret and endpoint, the bucket policy, and the Job's egress.",
    ),
    Reason.UPLOAD_FAILED: Guide(
        "Writing the artifact failed after the destination accepted the connection.",
        "Read the message for the destination's words (quota, object lock, size limit).",
    ),
    Reason.OOM_KILLED: Guide(
        "The Job's container ran out of memory.",
        "Raise the Jobs' memory limit (operator setting `memoryLimit`; chart value "
        "`dumpJob.settings.memoryLimit`).",
    ),
    Reason.EVICTED: Guide(
        "The kubelet evicted the Job's pod (node pressure).",
        "None usually; check the node's disk and memory pressure if it repeats.",
    ),
    Reason.POD_FAILED: Guide(
        "The pod failed without a result from the runner: the image could not start, a volume "
        "could not mount, or the container was killed.",
        "`kubectl describe pod` of the attempt's Job shows why (image pull, claim, security "
        "policy).",
    ),
    Reason.RESULT_MISSING: Guide(
        "The Job completed but left no valid result in its termination message, so its "
        "outcome cannot be trusted and is counted as a failure.",
        "Check that the Job runs the operator's own image, unmodified.",
    ),
    Reason.JOB_DELETED: Guide(
        "The attempt's Job was deleted before it finished (by hand, or a cleanup tool).",
        "Leave the operator's Jobs alone; they go after `jobTtlSeconds`.",
    ),
    Reason.PRUNE_FAILED: Guide(
        "A prune Job could not delete an artifact (retention, `deletionPolicy: Delete`); the "
        "message has the destination's words.",
        "Fix the destination's credentials or policy; the deletion is retried "
        "(see `ArtifactDeletionFailed`).",
    ),
    # Reason: reading an artifact back.
    Reason.ARTIFACT_NOT_FOUND: Guide(
        "The restore's artifact is gone from the destination (deleted, expired, moved).",
        "Restore from another backup (`kubectl get tb -l tenantbackup.dev/tenant=TENANT`).",
    ),
    Reason.ARTIFACT_CORRUPT: Guide(
        "The stored artifact's size or sha256 differs from what the backup recorded, or its "
        "manifest does not parse.",
        "Restore from another backup; check the storage for tampering or truncation.",
    ),
    # Reason: restores.
    Reason.CHECKSUM_MISMATCH: Guide(
        "The downloaded artifact's sha256 differs from the backup's; nothing was restored.",
        "Restore from another backup; investigate the storage.",
    ),
    Reason.MISSING_PREREQUISITE: Guide(
        "The dump needs roles, extensions or objects the target database lacks (listed in the "
        "message); nothing was restored.",
        "Create them in the target database (or use a target created like the source), then "
        "create the restore again.",
    ),
    Reason.CROSS_TENANT_REFERENCE: Guide(
        "The dump refers to another tenant's schema; restoring it would reach across tenants, "
        "so it is refused.",
        "Remove the cross-schema reference in the source (views, foreign keys, defaults).",
    ),
    Reason.TARGET_EXISTS: Guide(
        "A restore with `mode: CreateNew` found the target schema (or Replace its previous-"
        "schema name) already present.",
        "Pick another target tenant, use `mode: Replace`, or drop the schema first.",
    ),
    Reason.TARGET_NOT_FOUND: Guide(
        "A `mode: Replace` restore's target schema does not exist.",
        "Use `mode: CreateNew` for a tenant that does not exist yet.",
    ),
    Reason.CHECKS_FAILED: Guide(
        "The restored data did not pass the restore's `checks` (the status lists each value); "
        "the target was left as it was.",
        "Compare the checks with the source; fix the check or restore another backup.",
    ),
    Reason.RESTORE_FAILED: Guide(
        "pg_restore or the restore's SQL failed for a reason not classified further; nothing "
        "of the target was changed.",
        "Read the message and the Job's pod log.",
    ),
    Reason.SOURCE_NOT_FOUND: Guide(
        "The restore's source is not a Succeeded TenantBackup of its namespace (name, or the "
        "newest of a schedule). No Job was created.",
        "Point `source.backupRef` at a Succeeded backup of the same namespace.",
    ),
    Reason.DECRYPTION_FAILED: Guide(
        "The artifact is encrypted and no identity given decrypts it, or the identity Secret "
        "is missing or holds no age identity.",
        "Give the identity matching a recipient the backup was encrypted to (docs/encryption.md).",
    ),
    # The Verified condition.
    VerifiedReason.TOC_VERIFIED: Guide("The artifact's table of contents was read back."),
    VerifiedReason.FULLY_VERIFIED: Guide("The whole artifact was read back by pg_restore."),
    VerifiedReason.SCAN_VERIFIED: Guide("The whole artifact was read back and scanned."),
    # Restore Events.
    RestoreReason.SCHEDULES_PAUSED: Guide(
        "A Replace restore runs: the tenant's schedule slots are skipped until it ends."
    ),
    RestoreReason.ALREADY_RESTORED: Guide(
        "The restore's work was found done (e.g. after an operator restart); not run twice."
    ),
    RestoreReason.PREVIOUS_SCHEMA_DROPPED: Guide(
        "The previous schema a Replace kept was dropped once `keepPreviousFor` had passed."
    ),
    RestoreReason.PREVIOUS_SCHEMA_GONE: Guide(
        "The kept previous schema was gone already (dropped by someone, or a later Replace)."
    ),
    RestoreReason.PREVIOUS_SCHEMA_NOT_DROPPED: Guide(
        "The kept previous schema could not be dropped now (database unreachable, locked).",
        "None: it is tried again; check the database if it repeats.",
    ),
    RestoreReason.PREVIOUS_SCHEMA_LEFT_ALONE: Guide(
        "A schema of the previous schema's name exists that its marker does not name as this "
        "restore's: it is never dropped.",
        "Drop it by hand if it is not needed.",
    ),
    # RestoreVerified condition of a TenantBackup.
    VerificationReason.RESTORE_VERIFIED: Guide(
        "A Verify restore (a drill) restored this backup into a scratch database and passed."
    ),
    VerificationReason.RESTORE_VERIFICATION_FAILED: Guide(
        "A Verify restore of this backup failed; its own reason says why.",
        "Read the TenantRestore's reason (`kubectl get tr -l tenantbackup.dev/drill=true`).",
    ),
    # SizeAnomaly condition.
    SizeReason.SIZE_ANOMALY: Guide(
        "The artifact is much smaller than the previous success's (`spec.sizeCheck`).",
        "Check the tenant's data (mass deletion, truncation, a role seeing fewer rows) before "
        "the good backups age out.",
    ),
    SizeReason.SIZE_AS_EXPECTED: Guide("The artifact's size is in line with the previous."),
    # Schedules.
    ScheduleReason.SCHEDULED: Guide("A run (a TenantBackup) of a slot was created."),
    ScheduleReason.SUSPENDED: Guide("`spec.suspend` is true: no runs are created."),
    ScheduleReason.ACTIVE: Guide("The schedule is valid and creates runs at its slots."),
    ScheduleReason.INVALID_SCHEDULE: Guide(
        "The cron expression, time zone or spread window cannot be used (the message says "
        "which); no runs. kstatus reports the schedule Failed (`Stalled=True`).",
        "Correct the spec; the schedule is judged again on change.",
    ),
    ScheduleReason.DISCOVERY_FAILED: Guide(
        "`tenants: ['*']` could not list the tenants of the database (Secret, connection, "
        "permissions); retried.",
        "Fix as for the backup reasons of the same cause (SecretMissing, AuthFailed, "
        "DatabaseUnavailable).",
    ),
    ScheduleReason.MISSED: Guide(
        "Slots passed while the operator was not running (or later than "
        "`startingDeadlineSeconds`); at most the newest is caught up.",
        "Find why the operator was down; raise `startingDeadlineSeconds` if restarts cause it.",
    ),
    ScheduleReason.SKIPPED: Guide(
        "A tenant's slot was skipped: its previous run has not finished (`concurrencyPolicy: "
        "Forbid`), or the slot was dropped; the message says why.",
        "Shorten the runs or widen the schedule's interval.",
    ),
    ScheduleReason.NAME_TAKEN: Guide(
        "A TenantBackup with the run's name exists and is not the schedule's; left untouched, "
        "the tenant's slot skipped.",
        "Rename or delete that TenantBackup.",
    ),
    ScheduleReason.PRUNED: Guide("Retention deleted an old run (and, by policy, its artifact)."),
    ScheduleReason.TENANTS_CHANGED: Guide("The set of tenants the schedule backs up changed."),
    ScheduleReason.RESTORING: Guide(
        "A tenant skipped its slot: a Replace restore of it runs.",
        "None: the next slot runs.",
    ),
    # History and notifications.
    FollowUpReason.RECORDED: Guide("The outcome was written to the history database."),
    FollowUpReason.HISTORY_UNAVAILABLE: Guide(
        "The history database could not be written; retried at each resync.",
        "Check the history DSN's Secret, the database, and the operator's egress to it.",
    ),
    FollowUpReason.SENDING: Guide("A notification is being sent."),
    FollowUpReason.NOTIFIED: Guide("The notification was delivered."),
    FollowUpReason.NOTIFICATION_FAILED: Guide(
        "A notification could not be delivered (webhook, SMTP, Telegram); the message has the "
        "receiver's words.",
        "Check the channel's Secret and endpoint, and the operator's egress to it.",
    ),
    FollowUpReason.NOTIFICATION_INTERRUPTED: Guide(
        "The operator stopped while a notification was being sent; it may or may not have "
        "arrived, and is not sent twice.",
    ),
    # Deleting a backup's artifact.
    DeletionReason.WAITING_FOR_ATTEMPT: Guide(
        "The backup is being deleted while an attempt runs; its Job is awaited (at most its "
        "`activeDeadlineSeconds`) before the artifact is deleted."
    ),
    DeletionReason.PRUNE_JOB_CREATED: Guide("A prune Job deletes the artifact now."),
    DeletionReason.DELETION_FAILED: Guide(
        "The artifact could not be deleted (credentials, bucket policy, a prune Job that cannot "
        "start); the object and its finalizer stay, retried with the backup's backoff.",
        "Fix the cause; remove the finalizer by hand only if the artifact is already gone.",
    ),
    DeletionReason.DELETED: Guide("The artifact was deleted; the object goes."),
    DeletionReason.FORGOTTEN: Guide(
        "The object went, but the destination keeps what no retry can delete (Telegram "
        "messages older than 48 hours, noncurrent versions in a versioned bucket).",
        "Delete what the message lists by hand if it must go.",
    ),
    DeletionReason.RETAINED: Guide("`deletionPolicy: Retain`: the artifact stays."),
}

ALERTS: dict[str, Guide] = {
    "TenantBackupScheduleLastSuccessTooOld": Guide(
        "A tenant's newest success under a schedule is older than `lastSuccessIntervals` "
        "schedule intervals (label `reason: NoRecentSuccess`), or a schedule that old never "
        "had a success of a tenant it lists, or of any tenant (`reason: NeverSucceeded`). It "
        "reads the schedule's status, so it holds after the TenantBackups are deleted.",
        "`kubectl get tbs -n NS NAME -o yaml` shows the tenant's last run and success; the "
        "reason of its newest TenantBackups (`kubectl get tb -n NS -l "
        "tenantbackup.dev/tenant=TENANT`) names the cause, looked up above. `Ready=False` or "
        "no tenants listed: the schedule, its time zone or the allow-list. Fix it and let the "
        "next slot run, or create a TenantBackup now.",
    ),
    "TenantBackupTenantLastSuccessTooOld": Guide(
        "From the history table, so also for a tenant whose TenantBackups were deleted and "
        "for one-off backups: the tenant's newest success is older than "
        "`historyNoSuccessSeconds` (label `reason: NoRecentSuccess`), or the table first "
        "recorded the tenant that long ago and never saw a success (`reason: NeverSucceeded`).",
        "`tenant-backup history TENANT --namespace NS` lists its backups with their reasons; fix "
        "the newest one's cause and create a TenantBackup (or a schedule, if none backs the "
        "tenant up any more).",
    ),
    "TenantBackupHistoryUnreadable": Guide(
        "No operator replica has read the history table for `historyUnreadableFor`; the "
        "history-based alert keeps the values last read.",
        'The operator\'s log says why ("history metrics: reading the history table failed"): '
        "the database behind TENANT_BACKUP_HISTORY_DSN, the NetworkPolicy egress "
        "(`networkPolicy.egress.historyDatabase`), the role's rights on the history schema.",
    ),
    "TenantBackupPruneFailing": Guide(
        "Backups being deleted (retention, `deletionPolicy: Delete`) could not delete their "
        "artifact for `pruneFailingFor`; storage is not freed.",
        "Read `status.deletion` and the Events of the tenant's TenantBackups that have a "
        "deletionTimestamp (see `ArtifactDeletionFailed`); fix the credentials, bucket policy "
        "or prune Job, and the next retry completes.",
    ),
    "TenantBackupScheduleMissedSlots": Guide(
        "A schedule missed slots within `missedSlotsWindow`: the operator was down or later "
        "than `startingDeadlineSeconds` (see `Missed`).",
        "Find why the operator was not running; raise `startingDeadlineSeconds` if ordinary "
        "restarts cause it; back up by hand a tenant that cannot wait.",
    ),
    "TenantBackupSizeAnomaly": Guide(
        "A tenant's newest success is flagged `SizeAnomaly`.",
        "As for `SizeAnomaly` above: check the tenant's data before the good backups age out.",
    ),
    "TenantBackupNotVerified": Guide(
        "A tenant verified once by a Verify restore has had none for `notVerifiedSeconds`.",
        "Read the newest drill's reason (`kubectl get tr -n NS -l "
        "tenantbackup.dev/tenant=TENANT,tenantbackup.dev/drill=true`), fix it, and apply a "
        "Verify TenantRestore of the newest backup.",
    ),
    "TenantBackupsFailing": Guide(
        "A TenantBackup of the namespace ended Failed within `failingWindow` (counted when it "
        "ends, so deleting the object does not hide it).",
        "`kubectl get tb -n NS -o wide` lists the reasons; each one's fix is above.",
    ),
    "TenantBackupsQueuedTooLong": Guide(
        "Backups of the namespace have waited with reason `Queued` and the queue has not "
        "emptied for `queuedFor`.",
        "As for `Queued` above: the message names the limit or the running Job of the same "
        "tenant; raise `concurrency.*`, spread schedules, or find the Job that does not end.",
    ),
    "TenantBackupOperatorDown": Guide(
        "No replica of the operator has been scraped up for `operatorDownFor`: no backup "
        "starts or ends, schedules miss slots.",
        "`kubectl get pods -n NAMESPACE -l app.kubernetes.io/instance=RELEASE` and their "
        "Events: the image, resources, the API server's reachability (egress NetworkPolicy).",
    ),
}
"""The chart's alerts (templates/prometheusrule.yaml), each alert's `runbook_url` this page's
heading of its name."""
