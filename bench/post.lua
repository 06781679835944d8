-- wrk script for bench/ingest.py: one fixed request, counted by status.
--
--   wrk ... -s bench/post.lua URL -- METHOD CONTENT_TYPE BODY_FILE
--
-- METHOD is GET or POST; CONTENT_TYPE "-" sends none; BODY_FILE "-" sends no
-- body. Each wrk thread counts 2xx and other answers in response(); done()
-- sums them over threads and prints one line "BENCH_JSON {...}" with the
-- counts and latency percentiles (microseconds) for ingest.py to read.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   ok, bad = 0, 0
   wrk.method = args[1] or "GET"
   local content_type = args[2] or "-"
   local body_file = args[3] or "-"
   if content_type ~= "-" then
      wrk.headers["Content-Type"] = content_type
   end
   if body_file ~= "-" then
      local f = assert(io.open(body_file, "rb"))
      wrk.body = f:read("*a")
      f:close()
   end
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local ok_total, bad_total = 0, 0
   for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      bad_total = bad_total + thread:get("bad")
   end
   local e = summary.errors
   local parts = {
      string.format('"duration_us":%d', summary.duration),
      string.format('"requests":%d', summary.requests),
      string.format('"bytes":%d', summary.bytes),
      string.format('"ok":%d', ok_total),
      string.format('"non_2xx":%d', bad_total),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
                    e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
                    latency.min, latency.mean, latency.max, latency.stdev,
                    latency:percentile(50), latency:percentile(90),
                    latency:percentile(99), latency:percentile(99.9)),
   }
   io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end
