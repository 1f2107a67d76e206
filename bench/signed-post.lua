-- wrk script for bench/webhook-ingest.sh. It POSTs one fixed, signed body
-- with X-Forwarded-For spread over many client addresses, counts responses
-- by status and prints one machine-readable RESULT line at the end.
--
--   wrk ... -s bench/signed-post.lua URL -- BODY_FILE SIGNATURE [ADDRESSES_PER_THREAD]
--
-- BODY_FILE: the body sent with every request (the signature covers it).
-- SIGNATURE: the X-Hub-Signature-256 value, "sha256=<64 hex digits>".
-- ADDRESSES_PER_THREAD: distinct X-Forwarded-For values per wrk thread
-- (default 2048, at most 65536). Thread n sends 10.n.x.y, so two threads
-- send twice as many distinct addresses. The addresses are header text only:
-- no packet goes to them.

local threads = {}

function setup(thread)
   thread:set("thread_number", #threads)
   table.insert(threads, thread)
end

-- Per-thread state: the prepared request strings and the status counters.
local requests = {}
local next_request = 0
ok_count = 0
other_count = 0
other_statuses = {}

function init(args)
   local body_file = args[1]
   local signature = args[2]
   local address_count = tonumber(args[3] or "2048")
   if body_file == nil or signature == nil then
      error("usage: wrk ... -s signed-post.lua URL -- BODY_FILE SIGNATURE [ADDRESSES_PER_THREAD]")
   end
   if address_count == nil or address_count < 1 or address_count > 65536 then
      error("ADDRESSES_PER_THREAD must be a number from 1 to 65536, not " .. tostring(args[3]))
   end

   local file = assert(io.open(body_file, "rb"))
   local body = file:read("*a")
   file:close()

   -- Every request string is built once here, so the per-request Lua work is
   -- a table lookup and stays the same for both programs under test.
   for i = 0, address_count - 1 do
      local address = string.format("10.%d.%d.%d", thread_number % 256,
                                    math.floor(i / 256), i % 256)
      local headers = {
         ["Host"] = wrk.headers["Host"],
         ["Content-Type"] = "application/json",
         ["X-GitHub-Event"] = "push",
         ["X-Hub-Signature-256"] = signature,
         ["X-Forwarded-For"] = address,
      }
      requests[i + 1] = wrk.format("POST", nil, headers, body)
   end
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end

function response(status, headers, body)
   if status >= 200 and status <= 299 then
      ok_count = ok_count + 1
   else
      other_count = other_count + 1
      other_statuses[status] = (other_statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests_seen)
   local ok, other = 0, 0
   local statuses = {}
   for _, thread in ipairs(threads) do
      ok = ok + thread:get("ok_count")
      other = other + thread:get("other_count")
      for status, count in pairs(thread:get("other_statuses")) do
         statuses[status] = (statuses[status] or 0) + count
      end
   end

   local status_list = {}
   for status, count in pairs(statuses) do
      table.insert(status_list, string.format("%d:%d", status, count))
   end
   table.sort(status_list)

   local errors = summary.errors
   io.write(string.format(
      "RESULT ok=%d non2xx=%d responses=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d non2xx_statuses=%s\n",
      ok, other, summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      errors.connect, errors.read, errors.write, errors.timeout,
      #status_list > 0 and table.concat(status_list, ",") or "none"))
end
