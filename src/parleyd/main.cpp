// parleyd: reads its configuration and runs the server. Only wiring lives here.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "app/app.h"
#include "config/command_line.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  parley::CommandLine command_line = parley::ParseCommandLine(argc, argv, env);
  if (command_line.exit_now) {
    (command_line.exit_code == 0 ? std::cout : std::cerr) << command_line.output;
    return command_line.exit_code;
  }
  const parley::Config& config = command_line.config;

  // Logs go to stderr; stdout carries only the "listening on" line that scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("parleyd"));
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  auto app = parley::App::Create(config);
  if (!app.ok()) {
    spdlog::critical("cannot start: {}", app.error().message);
    return 1;
  }
  auto port = (*app)->Listen();
  if (!port.ok()) {
    spdlog::critical("cannot start: {}", port.error().message);
    return 1;
  }
  auto host = parley::ParseHostPort(config.listen);
  std::string shown_host = host.ok() && host->host != "localhost" ? host->host : "127.0.0.1";
  if (shown_host.find(':') != std::string::npos) shown_host = "[" + shown_host + "]";
  // Before the listening line, which is what scripts wait for: once it is read, this is too.
  if (const auto metrics_port = (*app)->MetricsPort()) {
    auto metrics_host = parley::ParseHostPort(config.metrics_listen);
    std::string shown =
        metrics_host.ok() && metrics_host->host != "localhost" ? metrics_host->host : "127.0.0.1";
    if (shown.find(':') != std::string::npos) shown = "[" + shown + "]";
    std::printf("metrics on http://%s:%u/metrics\n", shown.c_str(),
                static_cast<unsigned>(*metrics_port));
  }
  std::printf("listening on http://%s:%u\n", shown_host.c_str(), static_cast<unsigned>(*port));
  std::fflush(stdout);
  spdlog::info("parleyd serving on {}:{} with data in {}", shown_host, *port, config.data_dir);

  (*app)->Run();
  spdlog::info("drained; bye");
  return 0;
}
