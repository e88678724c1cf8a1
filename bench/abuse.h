#pragma once

// The abuse workload: what an ordinary user (the bystander, abuse_bystander.h) feels while one
// client attacks the server (abuse_attacks.h). A baseline phase without attack, then each
// attack alone for --duration seconds (after --warmup), each from one source address of its
// own (127.0.0.2 + its place in AttackNames()), while the bystander logs in, syncs and sends
// from 127.0.0.1 at a fixed modest rate. Every phase reports the bystander's latencies and
// errors, the attack's own counters and what the server answered it, and the server's CPU
// time and peak RSS. See docs/BENCHMARKS.md, "Abuse: a bystander under attack".

#include <boost/json/object.hpp>
#include <string>

#include "options.h"
#include "seed.h"
#include "workloads.h"

namespace parley::bench {

/// Pairs the abuse workload needs seeded: the bystander's, the attacker's, the prefilled ones.
int AbusePairsNeeded(const Options& opt);

/// Runs the abuse workload; the report has the shape RunWorkload documents.
bool RunAbuse(const Options& opt, const ServerRef& server, const Seed& seed,
              boost::json::object& report, std::string& error);

}  // namespace parley::bench
