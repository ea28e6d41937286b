"""A minimal OCI image packer: directory trees to layer tars, then an image-layout tarball.

What `ctr images import` reads: `oci-layout`, `index.json` (the image name in the
`io.containerd.image.name` annotation) and `blobs/sha256/` (config, manifest, layers).
Layers are uncompressed tars; a layer tree must not hold overlayfs whiteouts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Blob:
    """Content-addressed bytes of an image: its sha256 digest and size."""

    digest: str
    size: int

    def descriptor(self, media_type: str) -> dict[str, Any]:
        """The OCI descriptor of this blob."""
        return {"mediaType": media_type, "digest": self.digest, "size": self.size}


def file_blob(path: Path) -> Blob:
    """Digest and size of a file."""
    sha = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            sha.update(chunk)
    return Blob(f"sha256:{sha.hexdigest()}", path.stat().st_size)


def _no_whiteouts(info: tarfile.TarInfo) -> tarfile.TarInfo:
    if info.ischr() and info.devmajor == 0 and info.devminor == 0:
        raise ValueError(f"{info.name}: a deletion (overlay whiteout) cannot be a layer entry")
    return info


def write_layer(tree: Path, out: Path, *, skip_contents_of: tuple[str, ...] = ()) -> None:
    """Tar `tree` (ownership, modes, links kept) into `out`; directories named in
    `skip_contents_of` are kept empty (e.g. "dev", which the runtime mounts)."""
    skipped = tuple(f"{name}/" for name in skip_contents_of)

    def select(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if info.name.startswith(skipped) else _no_whiteouts(info)

    tmp = out.with_suffix(".partial")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(tree)):
            tar.add(tree / entry, arcname=entry, filter=select)
    tmp.replace(out)


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = stat.S_IFREG | 0o644
    tar.addfile(info, io.BytesIO(data))


def write_image(out: Path, name: str, layers: list[Path], config: dict[str, Any]) -> None:
    """An OCI image-layout tarball of `layers` (tars, bottom first) with container `config`
    (the image config's `config`: User, Env, Entrypoint...), named `name` (a full
    reference such as docker.io/library/app:1)."""
    blobs = [file_blob(layer) for layer in layers]
    image_config = _json_bytes(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [blob.digest for blob in blobs]},
        }
    )
    config_blob = Blob(f"sha256:{hashlib.sha256(image_config).hexdigest()}", len(image_config))
    manifest = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config_blob.descriptor(CONFIG_MEDIA_TYPE),
            "layers": [blob.descriptor(LAYER_MEDIA_TYPE) for blob in blobs],
        }
    )
    manifest_blob = Blob(f"sha256:{hashlib.sha256(manifest).hexdigest()}", len(manifest))
    tag = name.rsplit(":", 1)[-1]
    index = {
        "schemaVersion": 2,
        "manifests": [
            manifest_blob.descriptor(MANIFEST_MEDIA_TYPE)
            | {
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag,
                }
            }
        ],
    }
    tmp = out.with_suffix(".partial")
    with tarfile.open(tmp, "w") as tar:
        _add_bytes(tar, "oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", _json_bytes(index))
        _add_bytes(tar, f"blobs/sha256/{config_blob.digest[7:]}", image_config)
        _add_bytes(tar, f"blobs/sha256/{manifest_blob.digest[7:]}", manifest)
        for layer, blob in zip(layers, blobs, strict=True):
            tar.add(layer, arcname=f"blobs/sha256/{blob.digest[7:]}")
    tmp.replace(out)
