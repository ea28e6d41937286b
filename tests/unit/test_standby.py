"""A standby's health endpoint answers while it waits and frees its port for Kopf after; the
write fence refuses before anything is sent."""

import json
import socket
import urllib.error
import urllib.request

import pytest
from kubernetes import client

from devenv.processes import free_port
from tenant_backup import standby
from tenant_backup.adapters.kube import Kube, NotLeaderError
from tenant_backup.api.kinds import TENANT_BACKUP
from tests.support.factories import backup


def test_the_standby_answers_its_health_path_and_frees_the_port_after() -> None:
    port = free_port()
    with standby.health_endpoint(f"http://127.0.0.1:{port}/healthz", lambda: "pod-a"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"role": "standby", "leader": "pod-a"}
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
    with socket.socket() as taken:  # what Kopf's own endpoint (aiohttp) then does
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()


def test_writes_are_refused_unsent_while_this_replica_may_not_act() -> None:
    # Nothing listens on port 9: any request that was sent would fail otherwise.
    api = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))
    kube = Kube(api, may_write=lambda: False)
    with pytest.raises(NotLeaderError, match="not the leader"):
        kube.write_status(TENANT_BACKUP, backup().metadata, backup().status)
    with pytest.raises(NotLeaderError):
        kube.create_job({"metadata": {"namespace": "ns", "name": "b-1"}})
    with pytest.raises(NotLeaderError):
        kube.delete(TENANT_BACKUP, "ns", "b")
