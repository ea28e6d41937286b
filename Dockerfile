# syntax=docker/dockerfile:1
# tenant-backup-operator: the operator and the dump runner in one image (see docs/deploy.md).
# Carries pg_dump, pg_restore and psql of every supported major (13-18), from the PostgreSQL
# project's apt repository: the runner picks /usr/lib/postgresql/<server major>/bin for a
# dump and <target major>/bin for a restore (docs/postgresql.md). PG_MAJORS narrows the set.
# This file is not built by this project's CI, which has no container engine and no access to
# that repository: the images it tests are built by devenv/images.py (docs/postgresql.md says
# which majors those carry).

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
ARG PG_MAJORS="13 14 15 16 17 18"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg zstd \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
      https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc]" \
      "https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      $(for major in $PG_MAJORS; do echo postgresql-client-$major; done) \
 && apt-get purge -y --auto-remove curl gnupg \
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
