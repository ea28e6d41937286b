-- Argo CD health check for tenantbackup.dev kinds (see docs/deploy.md, "Argo CD health check").
-- TenantBackup, TenantRestore: Succeeded -> Healthy, Failed -> Degraded, anything else (no
-- status yet, Pending, Running, a retry scheduled) -> Progressing. TenantBackupSchedule (no
-- phase, conditions only): Stalled -> Degraded, Ready -> Healthy, else Progressing. The
-- message is the operator's own.
local hs = {}
local status = obj.status
if status ~= nil and status.phase == nil and status.conditions ~= nil then
  local found = {}
  for _, condition in ipairs(status.conditions) do
    found[condition.type] = condition
  end
  local stalled, ready = found["Stalled"], found["Ready"]
  if stalled ~= nil and stalled.status == "True" then
    hs.status = "Degraded"
    hs.message = (stalled.reason or "") .. ": " .. (stalled.message or "")
  elseif ready ~= nil and ready.status == "True" then
    hs.status = "Healthy"
    hs.message = ready.message or ""
  else
    hs.status = "Progressing"
    hs.message = ready ~= nil and ((ready.reason or "") .. ": " .. (ready.message or "")) or ""
  end
  return hs
end
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
