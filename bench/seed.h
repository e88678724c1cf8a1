#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.h"

namespace parley::bench {

struct SeedUser {
  std::string name;
  std::string id;
  std::string token;  // an access token (one login = one device)
};

/// Groups of one size. Group g's members are users [first[g], first[g] + size): the creator
/// (owner) is the first of them.
struct SeedGroupSet {
  int size = 0;
  std::vector<std::string> convs;
  std::vector<int> first;
};

/// Users and conversations a workload runs on. Pair k is users 2k and 2k+1 in the direct
/// conversation pair_convs[k]. Groups of each size occupy their own block of users (so that,
/// for example, the members of 100-member groups are not also in a 5,000-member group whose
/// membership would swell their `sync`); pairs reuse the first users.
struct Seed {
  std::string prefix;
  int64_t expires_ms = 0;   // when the first of the access tokens expires
  int group_users_end = 0;  // users below this belong to a group block
  std::vector<SeedUser> users;
  std::vector<std::string> pair_convs;
  std::vector<SeedGroupSet> group_sets;

  const SeedGroupSet* Groups(int size) const {
    for (const auto& set : group_sets) {
      if (set.size == size) return &set;
    }
    return nullptr;
  }
};

/// What a workload needs. Users beyond `users` are added as pairs and groups require.
struct SeedNeeds {
  int users = 0;
  int pairs = 0;
  int group_size = 0;
  int groups = 0;
};

/// Makes `seed` cover `needs` through parleyd's HTTP API (register, login, create
/// conversation), `opt.seed_concurrency` requests at a time. With `opt.seed_file`, starts from
/// the file (checking that the server still accepts its tokens) and writes back what was
/// added. Returns false with `error` on any failure. Progress goes to stderr.
bool EnsureSeed(const Options& opt, const std::string& host, uint16_t port, const SeedNeeds& needs,
                Seed& seed, std::string& error);

/// The bare relay has no accounts: user i is "u<i>", every token "bare", pair k's conversation
/// "p<k>", group g of size S "g<S>-<g>" (the relay's room names).
Seed BareSeed(const SeedNeeds& needs);

}  // namespace parley::bench
