-- wrk script for bench/fairness.py: one account flooding /ez as hard as it can.
--
--   wrk ... -s bench/flood.lua URL -- EZKEY BATCH_FILE FAN_OUT
--
-- Requests take turns: a JSON batch of points to stats that exist (BATCH_FILE),
-- a tilde fan-out of FAN_OUT names never used before (each one a new stat),
-- and a single form post. Each thread counts answers by status; done() prints
-- one line "FLOOD_JSON {...}" with the counts for fairness.py to read.

local threads = {}
local thread_number = 0

function setup(thread)
   thread_number = thread_number + 1
   thread:set("number", thread_number)
   table.insert(threads, thread)
end

function init(args)
   counts = {}
   turn = 0
   ezkey = args[1]
   local f = assert(io.open(args[2], "rb"))
   batch = f:read("*a")
   f:close()
   fan_out = tonumber(args[3])
end

local function fan_out_body()
   local names = {}
   for i = 1, fan_out do
      names[i] = string.format("%d-%d-%d", number, turn, i)
   end
   return "ezkey=" .. ezkey .. "&stat=flood%20new~" .. table.concat(names, ",") .. "&count=1"
end

function request()
   turn = turn + 1
   local kind = turn % 3
   if kind == 0 then
      return wrk.format("POST", "/ez", {["Content-Type"] = "application/json"}, batch)
   elseif kind == 1 then
      return wrk.format("POST", "/ez", {["Content-Type"] = "application/x-www-form-urlencoded"},
                        fan_out_body())
   end
   return wrk.format("POST", "/ez", {["Content-Type"] = "application/x-www-form-urlencoded"},
                     "ezkey=" .. ezkey .. "&stat=flood%20single&count=1")
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   for _, thread in ipairs(threads) do
      local c = thread:get("counts")
      for status, n in pairs(c) do
         totals[status] = (totals[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(totals) do
      table.insert(parts, string.format('"%d":%d', status, n))
   end
   local e = summary.errors
   io.write(string.format(
      'FLOOD_JSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"statuses":{%s}}\n',
      summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
      table.concat(parts, ",")))
end
