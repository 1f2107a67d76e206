-- wrk script for bench/agent-auth.sh. It sends GET requests with an agent
-- token and X-Forwarded-For spread over many client addresses, counts
-- responses by status, adds up the X-Edge-Pbkdf2-Runs header that agent-auth
-- sends when EDGE_BENCH_COUNTERS=1, and prints one machine-readable RESULT
-- line at the end.
--
--   wrk ... -s bench/agent-auth.lua URL -- TOKEN [ADDRESSES_PER_THREAD]
--
-- TOKEN: the X-Agent-Token value of every request, or "random" for a new
-- random 43-character token per request slot (tokens no agent has).
-- ADDRESSES_PER_THREAD: distinct X-Forwarded-For values per wrk thread
-- (default 2048, at most 65536). Thread n sends 10.n.x.y. The addresses are
-- header text only: no packet goes to them.

local threads = {}

function setup(thread)
   thread:set("thread_number", #threads)
   table.insert(threads, thread)
end

-- Per-thread state: the prepared request strings and the counters.
local requests = {}
local next_request = 0
ok_count = 0
other_count = 0
other_statuses = {}
pbkdf2_runs = 0
pbkdf2_max = 0
pbkdf2_responses = 0

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

local function random_token()
   local characters = {}
   for i = 1, 43 do
      local k = math.random(1, 64)
      characters[i] = alphabet:sub(k, k)
   end
   return table.concat(characters)
end

function init(args)
   local token = args[1]
   local address_count = tonumber(args[2] or "2048")
   if token == nil then
      error("usage: wrk ... -s agent-auth.lua URL -- TOKEN|random [ADDRESSES_PER_THREAD]")
   end
   if address_count == nil or address_count < 1 or address_count > 65536 then
      error("ADDRESSES_PER_THREAD must be a number from 1 to 65536, not " .. tostring(args[2]))
   end
   math.randomseed(os.time() * 1000 + thread_number)

   -- Every request string is built once here, so the per-request Lua work is
   -- a table lookup and stays the same for every program under test.
   for i = 0, address_count - 1 do
      local address = string.format("10.%d.%d.%d", thread_number % 256,
                                    math.floor(i / 256), i % 256)
      local headers = {
         ["Host"] = wrk.headers["Host"],
         ["X-Agent-Token"] = token == "random" and random_token() or token,
         ["X-Forwarded-For"] = address,
      }
      requests[i + 1] = wrk.format("GET", nil, headers, nil)
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
   local runs = tonumber(headers["X-Edge-Pbkdf2-Runs"] or "")
   if runs ~= nil then
      pbkdf2_responses = pbkdf2_responses + 1
      pbkdf2_runs = pbkdf2_runs + runs
      if runs > pbkdf2_max then
         pbkdf2_max = runs
      end
   end
end

function done(summary, latency, requests_seen)
   local ok, other, runs, runs_max, counted = 0, 0, 0, 0, 0
   local statuses = {}
   for _, thread in ipairs(threads) do
      ok = ok + thread:get("ok_count")
      other = other + thread:get("other_count")
      runs = runs + thread:get("pbkdf2_runs")
      counted = counted + thread:get("pbkdf2_responses")
      runs_max = math.max(runs_max, thread:get("pbkdf2_max"))
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
      "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
      "pbkdf2_runs=%d pbkdf2_max=%d pbkdf2_responses=%d non2xx_statuses=%s\n",
      ok, other, summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      errors.connect, errors.read, errors.write, errors.timeout,
      runs, runs_max, counted,
      #status_list > 0 and table.concat(status_list, ",") or "none"))
end
