"""A restore from a Bot API server as the README's recipe does it, by hand: the manifest
message forwarded to learn its file id, the manifest and then each part fetched by getFile and
the file URL, 429s waited out for their `retry_after`."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode


def _get(url: str) -> Any:
    """A method's result by GET, waiting out 429s as a restore does."""
    while True:
        try:
            with urllib.request.urlopen(url) as reply:
                return json.load(reply)["result"]
        except urllib.error.HTTPError as error:
            with error:
                if error.code != 429:
                    raise
                time.sleep(json.load(error)["parameters"]["retry_after"])


def download(base_url: str, token: str, file_id: str) -> bytes:
    """A document's bytes, fetched as a restore does: getFile, then the file URL."""
    file_path = _get(f"{base_url}/bot{token}/getFile?file_id={file_id}")["file_path"]
    with urllib.request.urlopen(f"{base_url}/file/bot{token}/{file_path}") as reply:
        data: bytes = reply.read()
        return data


def reassemble(base_url: str, token: str, artifact_url: str) -> tuple[dict[str, Any], bytes]:
    """(the manifest, the artifact), fetched as the README's restore does: the manifest
    message of `telegram://<chat>/<message id>` forwarded to get its file id, the manifest
    downloaded, then its parts, joined in order."""
    chat, message_id = artifact_url.removeprefix("telegram://").split("/")
    query = urlencode({"chat_id": chat, "from_chat_id": chat, "message_id": message_id})
    manifest_file_id = _get(f"{base_url}/bot{token}/forwardMessage?{query}")["document"]["file_id"]
    manifest = json.loads(download(base_url, token, manifest_file_id))
    parts = [download(base_url, token, part["fileId"]) for part in manifest["parts"]]
    return manifest, b"".join(parts)
