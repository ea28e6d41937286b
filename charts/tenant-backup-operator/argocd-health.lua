-- Argo CD health check for tenantbackup.dev/TenantBackup (see docs/deploy.md, "Argo CD health check").
-- Succeeded -> Healthy, Failed -> Degraded, anything else (no status yet, Pending,
-- Running, a retry scheduled) -> Progressing. The message is the operator's own.
local hs = {}
local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the tenant-backup operator"
  return hs
end
local detail = status.message or ""
if status.reason ~= nil then
  detail = status.reason .. ": " .. detail
end
if status.phase == "Succeeded" then
  hs.status = "Healthy"
  if status.artifact ~= nil and status.artifact.url ~= nil then
    hs.message = "Backup " .. status.artifact.url
  else
    hs.message = detail
  end
elseif status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = detail
else
  hs.status = "Progressing"
  hs.message = status.phase .. " (attempt " .. tostring(status.attempts or 0) .. ") " .. detail
end
return hs
