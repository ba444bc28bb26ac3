-- Argo CD health check for redcap.dev/RedcapEnvironment.
--
-- Reads the operator's kstatus contract: status.observedGeneration, the Ready and Stalled
-- conditions, and status.phase. Argo CD runs health scripts with only the base, table and
-- package libraries, so this script uses no string.* functions.
--
--   observedGeneration behind metadata.generation -> Progressing (the status is stale)
--   Stalled=True                                   -> Degraded (needs a human)
--   phase Suspended (or Ready reason Suspended)    -> Suspended
--   Ready=True                                     -> Healthy
--   anything else                                  -> Progressing
local hs = {}

local function find_condition(conditions, condition_type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == condition_type then
      return c
    end
  end
  return nil
end

-- "Reason: message", or whichever of the two is set.
local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  if c.reason ~= nil and c.reason ~= "" and c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local ready = find_condition(status.conditions, "Ready")
local stalled = find_condition(status.conditions, "Stalled")

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

if status.phase == "Suspended" or (ready ~= nil and ready.reason == "Suspended") then
  hs.status = "Suspended"
  hs.message = status.phaseReason or describe(ready, "spec.suspend is true")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
if status.phase ~= nil and status.phaseReason ~= nil then
  hs.message = status.phase .. ": " .. status.phaseReason
else
  hs.message = describe(ready, "Reconciling")
end
return hs
