"""The backup UI (`tenant-backup ui`): server-rendered pages that act as the signed-in user.

Every Kubernetes read and write is made with the user's own bearer token (`kubeapi`), so the
API server authenticates and authorizes each one: the UI can do nothing the user could not do
with kubectl. Pure modules decide (sessions, CSRF, rate limit, the pages' models); `web` serves.
"""
