#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "store/sqlite/sqlite_message_store.h"

namespace parley {

/// What the database takes on disk, and what is left.
struct DiskUsage {
  uint64_t db_bytes = 0;    // parley.db
  uint64_t wal_bytes = 0;   // parley.db-wal
  uint64_t free_bytes = 0;  // available to this process on the data dir's file system
};

/// The size of `db_path` and its WAL, and the free space of the file system holding it.
/// kInternal when the file system cannot be asked (the sizes of missing files are 0).
Result<DiskUsage> MeasureDisk(const std::string& db_path);

struct MaintenanceOptions {
  std::string db_path;
  /// How often to look for erased text to purge (SqliteMessageStore::PurgeDeletedText); a
  /// purge runs only when an edit or delete happened since the last one, and the next one
  /// waits at least ten times as long as the last one took (so purges take at most a tenth
  /// of the writer's time, whatever the index size).
  std::chrono::milliseconds purge_interval{60'000};
  /// How often to measure the disk.
  std::chrono::milliseconds disk_interval{1'000};
  /// Below this many free bytes, disk_low() is true (writes are to be refused).
  uint64_t min_free_bytes = 256ull << 20;
};

/// The message store's background work: the scheduled purge of erased text (so that deleted
/// and edited-away text leaves the files within purge_interval plus one purge), and the disk
/// watch behind the write guard and the disk gauges.
///
/// Threads: one of its own, started by the constructor (after one synchronous disk
/// measurement, so disk_low() is right from the start) and joined by the destructor. The
/// listeners run on that thread and must be quick. `store` must outlive this object.
class StoreMaintenance {
 public:
  /// After each purge attempt: its outcome (how many text removals it made final) and how long
  /// it took.
  using PurgeListener =
      std::function<void(const Result<uint64_t>& purged, std::chrono::microseconds took)>;
  /// After each disk measurement.
  using DiskListener = std::function<void(const DiskUsage& usage)>;

  StoreMaintenance(SqliteMessageStore& store, MaintenanceOptions options, PurgeListener on_purge,
                   DiskListener on_disk);
  ~StoreMaintenance();
  StoreMaintenance(const StoreMaintenance&) = delete;
  StoreMaintenance& operator=(const StoreMaintenance&) = delete;

  /// Free space was under min_free_bytes at the last measurement. Any thread, lock-free.
  bool disk_low() const { return disk_low_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  void CheckDisk();

  SqliteMessageStore& store_;
  const MaintenanceOptions options_;
  const PurgeListener on_purge_;
  const DiskListener on_disk_;
  std::atomic<bool> disk_low_{false};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace parley
