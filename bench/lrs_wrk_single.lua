-- One new statement per POST; ids unique per thread (each wrk thread has its own Lua state).
local counter = 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local function hex(n, width) return string.format("%0" .. width .. "x", n) end
request = function()
  counter = counter + 1
  local id = hex(tid, 8) .. "-0000-4000-8000-" .. hex(counter, 12)
  local reg = hex(tid, 8) .. "-1111-4000-8000-" .. hex(counter % 5000, 12)
  local body = string.format('{"id":"%s","actor":{"objectType":"Agent","mbox":"mailto:learner%d@example.com"},'
    .. '"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},'
    .. '"object":{"objectType":"Activity","id":"http://example.com/activities/%d","definition":{"name":{"en-US":"Activity"},"type":"http://adlnet.gov/expapi/activities/module"}},'
    .. '"result":{"completion":true,"duration":"PT3M"},'
    .. '"context":{"registration":"%s","contextActivities":{"parent":[{"id":"http://example.com/courses/%d"}]}}}',
    id, counter % 1000, counter % 1000, reg, counter % 20)
  return wrk.format("POST", "/xapi/statements", nil, body)
end
