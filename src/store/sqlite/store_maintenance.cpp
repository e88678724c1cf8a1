#include "store/sqlite/store_maintenance.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

namespace parley {

namespace {

constexpr int kPurgeSpacing = 10;

uint64_t FileSize(const std::string& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<uint64_t>(size);
}

}  // namespace

Result<DiskUsage> MeasureDisk(const std::string& db_path) {
  DiskUsage usage;
  usage.db_bytes = FileSize(db_path);
  usage.wal_bytes = FileSize(db_path + "-wal");
  std::filesystem::path dir = std::filesystem::path(db_path).parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) {
    return Error::Internal("statvfs " + dir.string() + " failed");
  }
  // f_bavail: what an unprivileged writer may still use, which is what SQLite will get.
  usage.free_bytes = static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_frsize);
  return usage;
}

StoreMaintenance::StoreMaintenance(SqliteMessageStore& store, MaintenanceOptions options,
                                   PurgeListener on_purge, DiskListener on_disk)
    : store_(store),
      options_(std::move(options)),
      on_purge_(std::move(on_purge)),
      on_disk_(std::move(on_disk)) {
  CheckDisk();
  thread_ = std::thread([this] { Loop(); });
}

StoreMaintenance::~StoreMaintenance() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StoreMaintenance::CheckDisk() {
  Result<DiskUsage> usage = MeasureDisk(options_.db_path);
  // A file system that cannot be asked is not taken for a full one: SQLite's own error is
  // still there if it really is.
  if (!usage.ok()) return;
  disk_low_.store(usage->free_bytes < options_.min_free_bytes, std::memory_order_relaxed);
  if (on_disk_) on_disk_(*usage);
}

void StoreMaintenance::Loop() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_purge = Clock::now() + options_.purge_interval;
  Clock::time_point next_disk = Clock::now() + options_.disk_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_until(lock, std::min(next_purge, next_disk), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const Clock::time_point now = Clock::now();
    if (now >= next_disk) {
      CheckDisk();
      next_disk = now + options_.disk_interval;
    }
    if (now >= next_purge) {
      Clock::duration took{};
      if (store_.TextRemovedSincePurge() > 0) {
        const Clock::time_point start = Clock::now();
        Result<uint64_t> status = store_.PurgeDeletedText();
        took = Clock::now() - start;
        if (on_purge_) {
          on_purge_(status, std::chrono::duration_cast<std::chrono::microseconds>(took));
        }
      }
      // A purge holds the write lock for a time that grows with the index; spacing purges by
      // at least kPurgeSpacing times their cost keeps them under 1/kPurgeSpacing of the
      // writer's time, however often someone deletes.
      next_purge =
          Clock::now() + std::max<Clock::duration>(options_.purge_interval, took * kPurgeSpacing);
    }
    lock.lock();
  }
}

}  // namespace parley
