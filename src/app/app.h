#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "common/status.h"
#include "config/config.h"

namespace parley {

/// The whole single-node server built from a Config: storage, services, gateway. main()
/// only parses the command line and runs this.
class App {
 public:
  /// Opens the data dir (creating it with mode 0700), the database, the signing key, and
  /// builds every component. Start-up errors come back as values with a clear message.
  static Result<std::unique_ptr<App>> Create(const Config& config);
  ~App();

  /// Binds the listening socket; returns the bound port.
  Result<uint16_t> Listen();
  /// The metrics listener's bound port (metrics_listen), after Listen(); nullopt when off.
  std::optional<uint16_t> MetricsPort() const;
  /// Serves until SIGTERM/SIGINT has drained the server.
  void Run();

 private:
  struct Parts;
  explicit App(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace parley
