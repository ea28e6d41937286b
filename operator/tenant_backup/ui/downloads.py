"""Download links: a fresh presigned GET of an S3 backup's artifact, signed with the
destination's Secret read with the user's token (never rendered, logged or kept)."""

from aiohttp import web

from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.ui import details
from tenant_backup.ui.context import caller
from tenant_backup.ui.kubeapi import ApiRefusedError, UnauthorizedError
from tenant_backup.ui.presign import S3Credentials, presigned_get
from tenant_backup.ui.responses import not_found, refused_page, status_of


async def download(request: web.Request) -> web.StreamResponse:
    """A fresh presigned GET of an S3 backup's artifact, signed with the destination's
    Secret read with the user's token: a redirect to it, or a page saying why not."""
    who = await caller(request)
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    body = await who.api.get(TENANT_BACKUP, namespace, name)
    if body is None:
        return not_found(request, who, f"No TenantBackup {namespace}/{name}.")
    offer, target = details.download(body), details.s3_target(body)
    if offer.kind is not details.DownloadKind.SIGN or target is None:
        reason = offer.explanation or "This backup's artifact has no link the UI can sign."
        return refused_page(request, who, "No download link", reason, 409)
    try:
        data = await who.api.secret_data(namespace, offer.secret)
    except UnauthorizedError:
        raise
    except ApiRefusedError as refused:
        reason = (
            f"The link is signed with Secret {offer.secret}, read as you, and the API server "
            f"refused: {refused.reason}. Someone who may read it can run: {offer.command}"
        )
        return refused_page(request, who, "No download link", reason, status_of(refused))
    if not data or not data.get("accessKeyId") or not data.get("secretAccessKey"):
        reason = f"Secret {offer.secret} has no accessKeyId and secretAccessKey to sign with."
        return refused_page(request, who, "No download link", reason, 409)
    credentials = S3Credentials(
        data["accessKeyId"], data["secretAccessKey"], data.get("sessionToken") or None
    )
    url = presigned_get(target, credentials, details.DOWNLOAD_LINK_SECONDS)
    raise web.HTTPSeeOther(url)
