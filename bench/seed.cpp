#include "seed.h"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "http_client.h"

namespace parley::bench {
namespace {

namespace json = boost::json;

// When a server's body limit (64 KiB by default) refuses a create request with every member, it
// is retried with this many and the rest are added one by one (slow: each add re-sends the
// whole conversation).
constexpr int kMaxMembersPerCreate = 1500;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomPrefix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "b%06x", rd() & 0xffffff);
  return buf;
}

/// Runs fn(i, client) for i in [0, n) on `concurrency` threads, each with its own
/// keep-alive HTTP client. Stops at the first failure and reports it.
bool ParallelFor(const std::string& what, int n, int concurrency, const std::string& host,
                 uint16_t port, const std::function<bool(int, HttpClient&, std::string&)>& fn,
                 std::string& error) {
  if (n <= 0) return true;
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::vector<std::thread> threads;
  const int workers = std::max(1, std::min(concurrency, n));
  const auto started = std::chrono::steady_clock::now();
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      HttpClient client(host, port);
      for (int i = next++; i < n && !failed; i = next++) {
        std::string why;
        if (!fn(i, client, why)) {
          std::lock_guard lock(mu);
          if (!failed.exchange(true)) {
            error = what;
            error.append(" #").append(std::to_string(i)).append(": ").append(why);
          }
          return;
        }
        ++done;
      }
    });
  }
  // Progress, so that a long seed does not look hung. Bounded by the workers' own timeouts.
  while (done < n && !failed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    static thread_local auto last = std::chrono::steady_clock::now();
    if (std::chrono::steady_clock::now() - last > std::chrono::seconds(5)) {
      last = std::chrono::steady_clock::now();
      const double s = std::chrono::duration<double>(last - started).count();
      std::fprintf(stderr, "seed: %s %d/%d (%.0f/s)\n", what.c_str(), done.load(), n, done / s);
    }
  }
  for (auto& t : threads) t.join();
  return !failed;
}

bool ParseObject(const HttpResponse& r, json::object& out, std::string& why) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) {
    why = "HTTP " + std::to_string(r.status) +
          " with a body that is not a JSON object: " + r.body.substr(0, 200);
    return false;
  }
  out = std::move(v.get_object());
  return true;
}

std::string Failure(const HttpResponse& r) {
  if (r.status == 0) return "no answer: " + r.error;
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
}

bool Login(const Options& opt, HttpClient& http, SeedUser& user, int64_t& expires_ms,
           std::string& why) {
  json::object body{{"username", user.name}, {"password", opt.password}, {"device_name", "bench"}};
  const HttpResponse r = http.Request("POST", "/v1/auth/login", json::serialize(body));
  if (r.status != 200) {
    why = "login: " + Failure(r);
    return false;
  }
  json::object o;
  if (!ParseObject(r, o, why)) return false;
  user.id = json::value_to<std::string>(o.at("user_id"));
  user.token = json::value_to<std::string>(o.at("access_token"));
  expires_ms = WallMs() + 1000 * o.at("expires_in").to_number<int64_t>();
  return true;
}

bool CreateUser(const Options& opt, HttpClient& http, SeedUser& user, int64_t& expires_ms,
                std::string& why) {
  json::object body{{"username", user.name}, {"password", opt.password}};
  const HttpResponse r = http.Request("POST", "/v1/auth/register", json::serialize(body));
  // 409: registered by an earlier, interrupted seed: the login below tells if it is ours.
  if (r.status != 201 && r.status != 409) {
    why = "register: " + Failure(r);
    return false;
  }
  return Login(opt, http, user, expires_ms, why);
}

bool CreateConversation(HttpClient& http, const std::string& token, const json::object& body,
                        std::string& conv_id, std::string& why) {
  const HttpResponse r = http.Request("POST", "/v1/conversations", json::serialize(body), token);
  if (r.status != 201 && r.status != 200) {
    why = "create conversation: " + Failure(r);
    return false;
  }
  json::object o;
  if (!ParseObject(r, o, why)) return false;
  conv_id = json::value_to<std::string>(o.at("conversation").at("id"));
  return true;
}

json::value ToJson(const Seed& seed) {
  json::array users;
  for (const auto& u : seed.users) users.push_back(json::array{u.name, u.id, u.token});
  json::array sets;
  for (const auto& set : seed.group_sets) {
    json::array groups;
    for (size_t g = 0; g < set.convs.size(); ++g)
      groups.push_back(json::array{set.convs[g], set.first[g]});
    sets.push_back(json::object{{"size", set.size}, {"groups", std::move(groups)}});
  }
  json::array pairs;
  for (const auto& c : seed.pair_convs) pairs.emplace_back(c);
  return json::object{{"prefix", seed.prefix},
                      {"expires_ms", seed.expires_ms},
                      {"group_users_end", seed.group_users_end},
                      {"users", std::move(users)},
                      {"pairs", std::move(pairs)},
                      {"group_sets", std::move(sets)}};
}

bool FromJson(const json::value& v, Seed& seed, std::string& error) {
  try {
    const json::object& o = v.as_object();
    seed.prefix = json::value_to<std::string>(o.at("prefix"));
    seed.expires_ms = o.at("expires_ms").to_number<int64_t>();
    seed.group_users_end = static_cast<int>(o.at("group_users_end").to_number<int64_t>());
    for (const auto& u : o.at("users").as_array()) {
      const auto& a = u.as_array();
      seed.users.push_back({json::value_to<std::string>(a.at(0)),
                            json::value_to<std::string>(a.at(1)),
                            json::value_to<std::string>(a.at(2))});
    }
    for (const auto& c : o.at("pairs").as_array())
      seed.pair_convs.push_back(json::value_to<std::string>(c));
    for (const auto& s : o.at("group_sets").as_array()) {
      SeedGroupSet set;
      set.size = static_cast<int>(s.at("size").to_number<int64_t>());
      for (const auto& g : s.at("groups").as_array()) {
        set.convs.push_back(json::value_to<std::string>(g.as_array().at(0)));
        set.first.push_back(static_cast<int>(g.as_array().at(1).to_number<int64_t>()));
      }
      seed.group_sets.push_back(std::move(set));
    }
  } catch (const std::exception& e) {
    // Start-up input from a file: a malformed one is reported, not crashed on.
    error = std::string("malformed seed file: ") + e.what();
    return false;
  }
  return true;
}

}  // namespace

Seed BareSeed(const SeedNeeds& needs) {
  // Names built with append: GCC 12 warns falsely (-Wrestrict) on "u" + std::to_string(i).
  auto name = [](const char* prefix, int i) {
    std::string out(prefix);
    out.append(std::to_string(i));
    return out;
  };
  Seed seed;
  seed.prefix = "bare";
  const int users = std::max({needs.users, 2 * needs.pairs, needs.groups * needs.group_size});
  for (int i = 0; i < users; ++i) seed.users.push_back({name("u", i), name("u", i), "bare"});
  for (int k = 0; k < needs.pairs; ++k) seed.pair_convs.push_back(name("p", k));
  if (needs.groups > 0) {
    SeedGroupSet set;
    set.size = needs.group_size;
    const std::string prefix = name("g", needs.group_size) + "-";
    for (int g = 0; g < needs.groups; ++g) {
      set.convs.push_back(name(prefix.c_str(), g));
      set.first.push_back(g * needs.group_size);
    }
    seed.group_sets.push_back(std::move(set));
  }
  return seed;
}

bool EnsureSeed(const Options& opt, const std::string& host, uint16_t port, const SeedNeeds& needs,
                Seed& seed, std::string& error) {
  const auto started = std::chrono::steady_clock::now();
  bool from_file = false;
  if (seed.users.empty() && !opt.seed_file.empty() && std::filesystem::exists(opt.seed_file)) {
    std::ifstream in(opt.seed_file);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    json::value v = json::parse(text.str(), ec);
    if (ec) {
      error = "cannot parse " + opt.seed_file + ": " + ec.message();
      return false;
    }
    if (!FromJson(v, seed, error)) return false;
    from_file = true;
  }
  if (seed.prefix.empty()) seed.prefix = opt.seed_prefix.empty() ? RandomPrefix() : opt.seed_prefix;

  bool changed = false;
  std::mutex mu;  // guards seed.expires_ms across the seeding threads

  // Tokens from a file must still be accepted: a seed file belongs to one data directory.
  if (from_file && !seed.users.empty()) {
    if (seed.expires_ms < WallMs() + int64_t{10} * 60 * 1000) {
      std::fprintf(stderr, "seed: access tokens expire soon; logging %zu users in again\n",
                   seed.users.size());
      seed.expires_ms = INT64_MAX;
      if (!ParallelFor(
              "login", static_cast<int>(seed.users.size()), opt.seed_concurrency, host, port,
              [&](int i, HttpClient& http, std::string& why) {
                int64_t expires = 0;
                if (!Login(opt, http, seed.users[i], expires, why)) return false;
                std::lock_guard lock(mu);
                seed.expires_ms = std::min(seed.expires_ms, expires);
                return true;
              },
              error)) {
        return false;
      }
      changed = true;
    }
    HttpClient http(host, port);
    const HttpResponse r = http.Request("GET", "/v1/conversations", "", seed.users[0].token);
    if (r.status != 200) {
      error = "the server refuses the tokens in " + opt.seed_file + " (" + Failure(r) +
              "): a seed file belongs to the data directory it was made with; delete it to reseed";
      return false;
    }
  }

  // Which users each need covers.
  int users_needed = std::max(needs.users, 2 * needs.pairs);
  const SeedGroupSet* existing = needs.groups > 0 ? seed.Groups(needs.group_size) : nullptr;
  const int groups_have = existing ? static_cast<int>(existing->convs.size()) : 0;
  const int groups_new = std::max(0, needs.groups - groups_have);
  const int block_first = seed.group_users_end;
  if (groups_new > 0)
    users_needed = std::max(users_needed, block_first + groups_new * needs.group_size);

  // Users.
  const int users_have = static_cast<int>(seed.users.size());
  if (users_needed > users_have) {
    seed.users.resize(users_needed);
    int64_t first_expiry = seed.expires_ms == 0 ? INT64_MAX : seed.expires_ms;
    for (int i = users_have; i < users_needed; ++i)
      seed.users[i].name = seed.prefix + "u" + std::to_string(i);
    if (!ParallelFor(
            "users", users_needed - users_have, opt.seed_concurrency, host, port,
            [&](int k, HttpClient& http, std::string& why) {
              int64_t expires = 0;
              if (!CreateUser(opt, http, seed.users[users_have + k], expires, why)) return false;
              std::lock_guard lock(mu);
              first_expiry = std::min(first_expiry, expires);
              return true;
            },
            error)) {
      return false;
    }
    seed.expires_ms = first_expiry;
    changed = true;
  }

  // Pairs: users 2k and 2k+1.
  const int pairs_have = static_cast<int>(seed.pair_convs.size());
  if (needs.pairs > pairs_have) {
    seed.pair_convs.resize(needs.pairs);
    if (!ParallelFor(
            "pairs", needs.pairs - pairs_have, opt.seed_concurrency, host, port,
            [&](int k, HttpClient& http, std::string& why) {
              const int pair = pairs_have + k;
              const auto& a = seed.users[2 * static_cast<size_t>(pair)];
              const auto& b = seed.users[2 * static_cast<size_t>(pair) + 1];
              json::object body{{"type", "direct"}, {"members", json::array{b.id}}};
              return CreateConversation(http, a.token, body, seed.pair_convs[pair], why);
            },
            error)) {
      return false;
    }
    changed = true;
  }

  // Groups, in a fresh block of users.
  if (groups_new > 0) {
    SeedGroupSet* set = nullptr;
    for (auto& s : seed.group_sets) {
      if (s.size == needs.group_size) set = &s;
    }
    if (set == nullptr) {
      seed.group_sets.push_back(SeedGroupSet{needs.group_size, {}, {}});
      set = &seed.group_sets.back();
    }
    const int size = needs.group_size;
    std::vector<std::string> convs(groups_new);
    // All members in the create request; if the server's body limit refuses that (413), the
    // first kMaxMembersPerCreate and then the rest one by one.
    std::atomic<bool> too_large{false};
    auto create = [&](int g, int members_in_request, HttpClient& http, std::string& why) {
      const int first = block_first + g * size;
      json::array members;
      for (int m = 1; m <= members_in_request; ++m) members.emplace_back(seed.users[first + m].id);
      json::object body{
          {"type", "group"},
          {"title", "bench " + std::to_string(size) + "-" + std::to_string(groups_have + g)},
          {"members", std::move(members)}};
      return CreateConversation(http, seed.users[first].token, body, convs[g], why);
    };
    int create_members = size - 1;
    if (!ParallelFor(
            "groups of " + std::to_string(size), groups_new, opt.seed_concurrency, host, port,
            [&](int g, HttpClient& http, std::string& why) {
              if (create(g, create_members, http, why)) return true;
              if (why.find("HTTP 413") == std::string::npos) return false;
              too_large = true;
              return true;  // retried below with fewer members
            },
            error)) {
      return false;
    }
    if (too_large) {
      create_members = std::min(size - 1, kMaxMembersPerCreate);
      if (!ParallelFor(
              "groups of " + std::to_string(size) + " (split)", groups_new, opt.seed_concurrency,
              host, port,
              [&](int g, HttpClient& http, std::string& why) {
                return !convs[g].empty() || create(g, create_members, http, why);
              },
              error)) {
        return false;
      }
    }
    // Members that did not fit in the create request (only after a 413).
    const int extra_per_group = size - 1 - create_members;
    if (extra_per_group > 0 &&
        !ParallelFor(
            "group members", groups_new * extra_per_group, opt.seed_concurrency, host, port,
            [&](int k, HttpClient& http, std::string& why) {
              const int g = k / extra_per_group;
              const int first = block_first + g * size;
              const int m = 1 + create_members + k % extra_per_group;
              json::object body{{"user_id", seed.users[first + m].id}};
              const HttpResponse r =
                  http.Request("POST", "/v1/conversations/" + convs[g] + "/members",
                               json::serialize(body), seed.users[first].token);
              if (r.status == 200) return true;
              why = "add member: " + Failure(r);
              return false;
            },
            error)) {
      return false;
    }
    for (int g = 0; g < groups_new; ++g) {
      set->convs.push_back(convs[g]);
      set->first.push_back(block_first + g * size);
    }
    seed.group_users_end = block_first + groups_new * size;
    changed = true;
  }

  if (changed) {
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fprintf(stderr, "seed: %zu users, %zu pairs, %zu group sets ready in %.1f s\n",
                 seed.users.size(), seed.pair_convs.size(), seed.group_sets.size(), s);
    if (!opt.seed_file.empty()) {
      const std::string tmp = opt.seed_file + ".tmp";
      std::ofstream out(tmp, std::ios::trunc);
      out << json::serialize(ToJson(seed));
      out.close();
      if (!out) {
        error = "cannot write " + tmp;
        return false;
      }
      std::filesystem::rename(tmp, opt.seed_file);
    }
  }
  return true;
}

}  // namespace parley::bench
