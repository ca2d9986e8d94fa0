-- wrk script for the overload test: the Rinha mix, counting statuses.
-- Prints one JSON line {"status": {...}} at the end.
counts = {}  -- global: done() reads it from each thread with thread:get
local threads = {}
local chars = "abcdefghijklmnopqrstuvwxyz0123456789"

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

local function desc()
  local t = {}
  for i = 1, 10 do local k = math.random(#chars); t[i] = chars:sub(k, k) end
  return table.concat(t)
end

function request()
  local id = math.random(5)
  local r = math.random(100)
  if r <= 3 then return wrk.format("GET", "/clientes/" .. id .. "/extrato") end
  local tipo = (r <= 68) and "d" or "c"
  local body = '{"valor":' .. math.random(10000) .. ',"tipo":"' .. tipo .. '","descricao":"' .. desc() .. '"}'
  return wrk.format("POST", "/clientes/" .. id .. "/transacoes", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%d": %d', k, v)) end
  io.write(string.format('{"status": {%s}, "requests": %d, "socket_errors": %d, "timeouts": %d}\n',
    table.concat(parts, ", "), summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout))
end
