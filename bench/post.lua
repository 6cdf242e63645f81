-- wrk script for bench/load.sh: POST one CDS Hooks request body (BODY_FILE) as JSON, and at
-- the end print one machine-readable line with throughput, latency percentiles and errors.
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  -- wrk's latencies are in microseconds.
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d p999_us=%d max_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
