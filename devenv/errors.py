"""The error of the local cluster's pieces (control plane, PKI, real node)."""


class ClusterError(RuntimeError):
    """The control plane or the node could not be started or reached."""
