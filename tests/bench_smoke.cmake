# Smoke runs of the load generator (bench/): each workload for ~2 s with a handful of
# connections, against a parleyd of its own on port 0 with a fresh temporary data directory
# ("{tmp}"), and W2/W3 against the bare relay, so that the tool keeps working. The figures are
# not checked, only that nothing failed: no connection lost, no error reply, every acked send
# delivered, every W4 client resynced, the abuse workload's bystander answered,
# and the server exiting 0 on SIGTERM (--check).
# Benchmarks themselves are not run here: see scripts/bench and docs/BENCHMARKS.md.
if(TARGET parley_bench AND TARGET parleyd AND TARGET bare_relay)
  set(bench_smoke_parleyd
    $<TARGET_FILE:parleyd> --listen 127.0.0.1:0 --data-dir {tmp} --log-level warn
    --argon2-ops-limit 2 --argon2-mem-limit 19922944
    --rate-auth-ip-per-min 1000000 --rate-auth-ip-burst 1000000
    --rate-send-per-min 100000000 --rate-send-burst 100000
    --rate-frames-per-min 100000000 --rate-frames-burst 100000)
  set(bench_smoke_relay $<TARGET_FILE:bare_relay> --listen 127.0.0.1:0)
  set(bench_smoke_common --duration 2 --warmup 0.5 --threads 2 --check --quiet)

  # name|server|workload arguments, comma-separated
  foreach(spec
      "w1|parleyd|w1,--conns,100"
      "w2|parleyd|w2,--pairs,8,--fractions,0.5"
      "w3|parleyd|w3,--groups,3,--group-size,10,--posters,2"
      "w4|parleyd|w4,--groups,3,--group-size,10,--observer-pairs,2,--observer-rate,50"
      "w5|parleyd|w5,--readers,6,--prefill,60"
      "w2_bare|relay|w2,--pairs,8,--fractions,0.5,--target,bare"
      "w3_bare|relay|w3,--groups,3,--group-size,10,--posters,2,--target,bare")
    string(REPLACE "|" ";" parts "${spec}")
    list(GET parts 0 name)
    list(GET parts 1 server)
    list(GET parts 2 args)
    string(REPLACE "," ";" args "${args}")
    add_test(NAME bench_smoke_${name}
      COMMAND parley_bench --workload ${args} ${bench_smoke_common} -- ${bench_smoke_${server}})
    set_tests_properties(bench_smoke_${name} PROPERTIES LABELS bench-smoke TIMEOUT 180)
  endforeach()

  # The abuse workload: a baseline and every attack for 1 s each, small (a connection flood of
  # 100, 2 bystander pairs logging in 4 times a second, 2 short conversations for search);
  # --check asks only that the bystander logged in, synced and sent at all, and asked something
  # in every phase (a bystander kept waiting is a figure, not a failure of the tool).
  add_test(NAME bench_smoke_abuse
    COMMAND parley_bench --workload abuse --attacks all --duration 1 --warmup 0.2 --threads 2
      --bystander-pairs 2 --bystander-login-rate 4 --abuse-conns 100 --prefill-pairs 2
      --prefill 20 --check --quiet -- ${bench_smoke_parleyd})
  set_tests_properties(bench_smoke_abuse PROPERTIES LABELS bench-smoke TIMEOUT 180)
endif()
