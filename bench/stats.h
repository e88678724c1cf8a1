#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "histogram.h"

namespace parley::bench {

/// What one io thread counted since its stats were last taken. Touched only by that thread
/// (and by Runner::TakeStats, which runs on it).
struct ThreadStats {
  uint64_t opened = 0;             // connections that reached `ready`
  uint64_t open_failed = 0;        // connections that ended before `ready`
  uint64_t closed_unexpected = 0;  // ready connections the server or network ended
  uint64_t sent = 0;               // sends (or history requests) written
  uint64_t acked = 0;              // their successful replies
  uint64_t delivered = 0;          // message events received
  uint64_t errors = 0;             // error replies
  uint64_t skipped = 0;            // fixed rate: sends due while the window was full
  uint64_t pages = 0;              // history pages received
  uint64_t page_entries = 0;       // entries in them
  uint64_t resynced = 0;           // W4: clients done resyncing
  uint64_t bytes_in = 0;           // payload bytes of frames received

  Histogram ack;       // send -> ack (or request -> reply), ns
  Histogram delivery;  // body timestamp -> receipt, ns
  Histogram op;        // connect -> ready, ns
  Histogram resync;    // W4: storm start -> client holds everything again, ns

  std::map<std::string, uint64_t, std::less<>> reasons;  // error codes, close reasons

  void Count(std::string_view reason) {
    auto it = reasons.find(reason);
    if (it == reasons.end()) {
      reasons.emplace(std::string(reason), 1);
    } else {
      ++it->second;
    }
  }

  void Merge(const ThreadStats& o) {
    opened += o.opened;
    open_failed += o.open_failed;
    closed_unexpected += o.closed_unexpected;
    sent += o.sent;
    acked += o.acked;
    delivered += o.delivered;
    errors += o.errors;
    skipped += o.skipped;
    pages += o.pages;
    page_entries += o.page_entries;
    resynced += o.resynced;
    bytes_in += o.bytes_in;
    ack.Merge(o.ack);
    delivery.Merge(o.delivery);
    op.Merge(o.op);
    resync.Merge(o.resync);
    for (const auto& [k, v] : o.reasons) reasons[k] += v;
  }
};

}  // namespace parley::bench
