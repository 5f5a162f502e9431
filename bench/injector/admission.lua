-- wrk script for bench/injector/run.sh: POST the AdmissionReview in
-- $TOKENWELL_REVIEW to /mutate on every request, and count every answer that
-- is not a patch (wrk itself counts non-2xx answers and socket errors).
local f = assert(io.open(os.getenv("TOKENWELL_REVIEW"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local not_patched = 0
function response(status, headers, body)
  if status ~= 200 or not body:find('"patchType":"JSONPatch"', 1, true) then
    not_patched = not_patched + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("answers without a patch (this thread's view): %d\n", not_patched))
end
