# syntax=docker/dockerfile:1
# tenant-backup-operator: the operator and the dump runner in one image (see docs/deploy.md).
# Carries pg_dump 15 only (Debian 12's postgresql-client-15): it dumps servers up to 15; the
# runner fails with VersionMismatch for a newer server. For another major, install its
# postgresql-client-<major> (e.g. from the PostgreSQL project's apt repository) in the final
# stage: the runner picks /usr/lib/postgresql/<server major>/bin/pg_dump when present.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile . \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools \
 && /opt/venv/bin/python -m compileall -q /opt/venv

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 zstd \
 && rm -rf /var/lib/apt/lists/* \
 && python -m pip uninstall -y -q pip setuptools wheel
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONSAFEPATH=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["tenant-backup"]
CMD ["operator", "--all-namespaces", "--log-format=json"]
