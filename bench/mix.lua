-- wrk script: the official load mix and a check of every answer, with the
-- mix of k6/mix.json passed by bench/bench.py (wrk_args):
--
--   wrk -t2 -c64 -d10s -s bench/mix.lua http://127.0.0.1:9999 -- \
--       clients=1:100000,2:80000,... weights=220,110,10 valor=1,10000 dlen=10 alphabet=abc...
--
-- Each request: a debit, credit or statement (by the weights) of a random
-- client, random valor and descricao. Checks: every status must be 200 or
-- 422 (wrk cannot tell which request an answer belongs to, so 422 is
-- accepted for any kind; the k6 scenarios check the status set per kind), a
-- 200 must carry a well-formed body whose limite is one of the clients' and
-- whose saldo (or statement total) is >= -limite. At the end one line
-- "BENCH_RESULT {json}" gives the counts and latencies, with "q": the
-- latency at a grid of percentiles, so that bench/bench.py can merge runs
-- (it runs each level as 1-second slices, for the time series).
--
-- Optional think=MS (bench.py's official-rate level): each connection waits
-- a random exponential time of mean MS milliseconds before each request
-- (wrk's delay() hook; wrk's latency excludes it), so that N connections
-- offer about N x 1000 / MS requests per second, arrivals spread like the
-- official test's instead of a closed loop's back-to-back requests. Without
-- it no delay() is defined: a closed loop, as fast as the answers come.

local clients, limits, arg = {}, {}, {}
local headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "Agente do Caos - 2024/Q1" }

-- Per-thread counters, read by done() through thread:get.
status_counts = {}
inconsistent = 0
malformed = 0
sent = { d = 0, c = 0, e = 0 }

local threads = {}

local function numbers(s)
  local out = {}
  for n in string.gmatch(s, "%d+") do out[#out + 1] = tonumber(n) end
  return out
end

function setup(thread)
  thread:set("thread_no", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^(%w+)=(.*)$")
    arg[k or a] = v
  end
  for _, k in ipairs({ "clients", "weights", "valor", "dlen", "alphabet" }) do
    if not arg[k] then error("mix.lua: missing argument " .. k .. "= (bench/bench.py passes them)") end
  end
  local c = numbers(arg.clients)
  for i = 1, #c, 2 do
    clients[#clients + 1] = { id = c[i], limite = c[i + 1] }
    limits[c[i + 1]] = true
  end
  arg.weights, arg.valor, arg.dlen = numbers(arg.weights), numbers(arg.valor), tonumber(arg.dlen)
  if arg.think then
    local mean = tonumber(arg.think)
    if not mean or mean <= 0 then error("mix.lua: think= must be a positive number of milliseconds") end
    -- wrk asks whether delay() exists after init(): defined here, only then.
    -- Rounded to wrk's whole milliseconds (floor + 0.5 keeps the mean).
    function delay() return math.floor(-math.log(1 - math.random()) * mean + 0.5) end
  end
  -- A different sequence per thread and per run.
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919 + math.floor(os.clock() * 1e6))
end

local function descricao()
  local t, a = {}, arg.alphabet
  for i = 1, arg.dlen do
    local j = math.random(#a)
    t[i] = a:sub(j, j)
  end
  return table.concat(t)
end

function request()
  local c = clients[math.random(#clients)]
  local w = arg.weights
  local r = math.random(w[1] + w[2] + w[3])
  if r <= w[1] + w[2] then
    local tipo = (r <= w[1]) and "d" or "c"
    sent[tipo] = sent[tipo] + 1
    local body = string.format('{"valor":%d,"tipo":"%s","descricao":"%s"}', math.random(arg.valor[1], arg.valor[2]), tipo, descricao())
    return wrk.format("POST", "/clientes/" .. c.id .. "/transacoes", headers, body)
  end
  sent.e = sent.e + 1
  return wrk.format("GET", "/clientes/" .. c.id .. "/extrato", headers)
end

function response(status, hdrs, body)
  status_counts[status] = (status_counts[status] or 0) + 1
  if status ~= 200 then return end
  local limite = tonumber(body:match('"limite"%s*:%s*(-?%d+)'))
  local saldo = tonumber(body:match('"total"%s*:%s*(-?%d+)') or body:match('"saldo"%s*:%s*(-?%d+)'))
  if limite == nil or saldo == nil then
    malformed = malformed + 1
  elseif not limits[limite] or saldo < -limite then
    inconsistent = inconsistent + 1
  end
end

function done(summary, latency, requests)
  -- The percentile grid of "q": every 0.5 up to 99, every 0.1 up to 99.9,
  -- then 99.95 and 99.99 (merging slices resolves ranks to these steps).
  local q = {}
  for i = 1, 198 do q[#q + 1] = i * 0.5 end
  for i = 1, 9 do q[#q + 1] = 99 + i * 0.1 end
  q[#q + 1], q[#q + 2] = 99.95, 99.99
  for i, p in ipairs(q) do q[i] = string.format("[%g,%d]", p, latency:percentile(p)) end
  local st, snt, inc, bad = {}, { d = 0, c = 0, e = 0 }, 0, 0
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("status_counts")) do st[code] = (st[code] or 0) + n end
    for k, v in pairs(t:get("sent")) do snt[k] = snt[k] + v end
    inc = inc + t:get("inconsistent")
    bad = bad + t:get("malformed")
  end
  local parts = {}
  for code, n in pairs(st) do parts[#parts + 1] = string.format('"%d":%d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
    '"status":{%s},"inconsistencies":%d,"malformed":%d,"sent":{"d":%d,"c":%d,"e":%d},"q":[%s]}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(parts, ","), inc, bad, snt.d, snt.c, snt.e, table.concat(q, ",")))
end
