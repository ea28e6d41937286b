// The pod sandbox ("pause") process of the local real node's containerd; see main.go.
module github.com/tenant-backup-operator/tenant-backup-operator/tools/images/pause

go 1.24
