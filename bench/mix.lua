-- wrk script: the official load mix (debits : credits : statements as in
-- k6/mix.json, 220 : 110 : 10), random client, valor and descricao, and a
-- check of every answer. bench/bench.py passes the mix from k6/mix.json;
-- without clients=, the clients are those of db/clientes.csv:
--
--   wrk -t2 -c64 -d10s -s bench/mix.lua http://127.0.0.1:9999 -- \
--       clients=1:100000,2:80000,... \
--       weights=220,110,10 valor=1,10000 dlen=10 alphabet=abc...
--
-- Checks: every status must be 200 or 422 (wrk cannot tell which request an
-- answer belongs to, so 422 is accepted for any kind; the k6 scenarios check
-- the status set per kind), a 200 must carry a well-formed body whose limite
-- is one of the clients' and whose saldo (or statement total) is >= -limite.
-- At the end one line "BENCH_RESULT {json}" gives the counts and latencies,
-- with "q": the latency at a grid of percentiles, so that bench/bench.py can
-- merge runs (it runs each level as 1-second slices, for the time series).

local clients, limits = {}, {}
local w_deb, w_cre, w_ext, w_total = 220, 110, 10, 340
local vmin, vmax, dlen = 1, 10000, 10
local alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
local headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "Agente do Caos - 2024/Q1" }

-- Per-thread counters, read by done() through thread:get.
status_counts = {}
inconsistent = 0
malformed = 0
sent = { d = 0, c = 0, e = 0 }

local threads = {}

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s, "([^" .. sep .. "]+)") do out[#out + 1] = part end
  return out
end

local function add_client(id, limite)
  clients[#clients + 1] = { id = id, limite = limite }
  limits[limite] = true
end

-- Without clients=..., the clients the seed loads (run from the repository root).
local function read_clients_csv(path)
  local f = io.open(path) or error("mix.lua: no clients= argument and no " .. path .. " (run from the repository root)")
  for line in f:lines() do
    local id, lim = line:match("^(%d+),(%d+)")
    if id then add_client(tonumber(id), tonumber(lim)) end
  end
  f:close()
end

local function parse_args(args)
  for _, a in ipairs(args or {}) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k == "clients" then
      clients, limits = {}, {}
      for _, pair in ipairs(split(v, ",")) do
        local id, lim = pair:match("^(%d+):(%d+)$")
        add_client(tonumber(id), tonumber(lim))
      end
    elseif k == "weights" then
      local w = split(v, ",")
      w_deb, w_cre, w_ext = tonumber(w[1]), tonumber(w[2]), tonumber(w[3])
      w_total = w_deb + w_cre + w_ext
    elseif k == "valor" then
      local r = split(v, ",")
      vmin, vmax = tonumber(r[1]), tonumber(r[2])
    elseif k == "dlen" then
      dlen = tonumber(v)
    elseif k == "alphabet" then
      alphabet = v
    elseif k ~= nil then
      error("mix.lua: unknown argument " .. a)
    end
  end
  if #clients == 0 then read_clients_csv("db/clientes.csv") end
end

function setup(thread)
  thread:set("thread_no", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  parse_args(args)
  -- A different sequence per thread and per run.
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919 + math.floor(os.clock() * 1e6))
end

local function descricao()
  local t = {}
  local n = #alphabet
  for i = 1, dlen do
    local j = math.random(n)
    t[i] = alphabet:sub(j, j)
  end
  return table.concat(t)
end

function request()
  local c = clients[math.random(#clients)]
  local r = math.random(w_total)
  if r <= w_deb + w_cre then
    local tipo = (r <= w_deb) and "d" or "c"
    sent[tipo] = sent[tipo] + 1
    local body = string.format('{"valor":%d,"tipo":"%s","descricao":"%s"}', math.random(vmin, vmax), tipo, descricao())
    return wrk.format("POST", "/clientes/" .. c.id .. "/transacoes", headers, body)
  end
  sent.e = sent.e + 1
  return wrk.format("GET", "/clientes/" .. c.id .. "/extrato", headers)
end

function response(status, hdrs, body)
  status_counts[status] = (status_counts[status] or 0) + 1
  if status ~= 200 then return end
  local limite = tonumber(body:match('"limite"%s*:%s*(-?%d+)'))
  local total = tonumber(body:match('"total"%s*:%s*(-?%d+)'))
  local saldo = total
  if total == nil then saldo = tonumber(body:match('"saldo"%s*:%s*(-?%d+)')) end
  if limite == nil or saldo == nil then
    malformed = malformed + 1
  elseif not limits[limite] or saldo < -limite then
    inconsistent = inconsistent + 1
  end
end

-- The percentile grid of "q": every 0.5 up to 99, every 0.1 up to 99.9,
-- then 99.95 and 99.99 (merging slices resolves ranks to these steps).
local function grid()
  local g = {}
  for i = 1, 198 do g[#g + 1] = i * 0.5 end
  for i = 1, 9 do g[#g + 1] = 99 + i * 0.1 end
  g[#g + 1] = 99.95
  g[#g + 1] = 99.99
  return g
end

function done(summary, latency, requests)
  local q = {}
  for _, p in ipairs(grid()) do q[#q + 1] = string.format("[%g,%d]", p, latency:percentile(p)) end
  local st, inc, bad = {}, 0, 0
  local snt = { d = 0, c = 0, e = 0 }
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("status_counts")) do
      st[code] = (st[code] or 0) + n
    end
    inc = inc + t:get("inconsistent")
    bad = bad + t:get("malformed")
    local s = t:get("sent")
    for k, v in pairs(s) do snt[k] = snt[k] + v end
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
