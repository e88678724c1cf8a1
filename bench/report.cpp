#include "report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

namespace parley::bench {
namespace {

namespace json = boost::json;

struct Column {
  std::string title;
  std::function<std::string(const json::object& phase)> value;
};

std::string Num(const json::value* v, int decimals = 0) {
  if (v == nullptr || !v->is_number()) return "-";
  const double d = v->to_number<double>();
  char buf[64];
  if (decimals == 0) {
    // Thousands separators make rates readable at a glance.
    const int n = std::snprintf(buf, sizeof buf, "%.0f", d);
    std::string s;
    for (int i = 0; i < n; ++i) {
      s.push_back(buf[i]);
      const int left = n - 1 - i;
      if (left > 0 && left % 3 == 0 && buf[i] != '-') s.push_back(',');
    }
    return s;
  }
  std::snprintf(buf, sizeof buf, "%.*f", decimals, d);
  return buf;
}

Column Field(std::string title, std::initializer_list<const char*> keys, int decimals = 0) {
  std::vector<const char*> path(keys);
  return {std::move(title), [path, decimals](const json::object& p) {
            const json::value* v = nullptr;
            const json::object* at = &p;
            for (const char* k : path) {
              v = at ? at->if_contains(k) : nullptr;
              if (v == nullptr) return std::string("-");
              at = v->is_object() ? &v->as_object() : nullptr;
            }
            return Num(v, decimals);
          }};
}

/// "p50 / p99 / p99.9 / max" of one latency object, in ms.
Column Latencies(std::string title, const char* key) {
  return {std::move(title), [key](const json::object& p) {
            const json::value* l = p.if_contains(key);
            if (l == nullptr || !l->is_object() || l->at("count").to_number<int64_t>() == 0) {
              return std::string("-");
            }
            const auto& o = l->as_object();
            return Num(o.if_contains("p50"), 2) + " / " + Num(o.if_contains("p99"), 2) + " / " +
                   Num(o.if_contains("p999"), 2) + " / " + Num(o.if_contains("max"), 1);
          }};
}

/// A string field of the phase, "|" escaped for Markdown.
Column Text(std::string title, const char* key) {
  return {std::move(title), [key](const json::object& p) {
            const json::value* v = p.if_contains(key);
            if (v == nullptr || !v->is_string()) return std::string("-");
            std::string out;
            for (char c : v->as_string()) out += c == '|' ? std::string("\\|") : std::string(1, c);
            return out;
          }};
}

/// Abuse: the bystander's p99 of `key` in ms, its ratio to the baseline and its sample count:
/// "25.1 (×1.02, n=4)".
Column BystanderP99(std::string title, const char* key) {
  return {std::move(title), [key](const json::object& p) {
            const json::value* b = p.if_contains("bystander");
            const json::value* l = b && b->is_object() ? b->as_object().if_contains(key) : nullptr;
            if (l == nullptr || !l->is_object()) return std::string("-");
            const auto& o = l->as_object();
            const std::string n = Num(o.if_contains("count"));
            if (o.at("count").to_number<int64_t>() == 0) return std::string("- (n=0)");
            std::string out = Num(o.if_contains("p99"), 2) + " (";
            if (o.contains("p99_x")) out += "×" + Num(o.if_contains("p99_x"), 2) + ", ";
            return out + "n=" + n + ")";
          }};
}

/// Abuse: the bystander's failed logins / syncs / sends, its WebSockets the server closed, and
/// its requests unanswered for over a second at the end of the phase.
Column BystanderErrors(std::string title) {
  return {std::move(title), [](const json::object& p) {
            const json::value* b = p.if_contains("bystander");
            if (b == nullptr || !b->is_object()) return std::string("-");
            const auto& o = b->as_object();
            return Num(o.if_contains("login_errors")) + " / " + Num(o.if_contains("sync_errors")) +
                   " / " + Num(o.if_contains("send_errors")) + " / " +
                   Num(o.if_contains("closed")) + " / " + Num(o.if_contains("unanswered"));
          }};
}

std::vector<Column> ColumnsFor(const std::string& workload) {
  std::vector<Column> c{
      {"phase", [](const json::object& p) { return std::string(p.at("name").as_string()); }},
      Field("s", {"seconds"}, 1)};
  if (workload == "w1") {
    c.push_back(Field("connected", {"opened"}));
    c.push_back(Field("conn+auth/s", {"rate", "opened"}));
    c.push_back(Latencies("conn+auth ms p50/p99/p99.9/max", "op_ms"));
    c.push_back(Field("srv cores", {"server", "cores"}, 2));
    c.push_back(Field("conn per srv CPU-s", {"server", "per_cpu_s", "opened"}));
    c.push_back(Field("srv RSS KiB", {"server", "rss_kb"}));
  } else if (workload == "w4") {
    c.push_back(Field("resynced", {"resynced"}));
    c.push_back(Latencies("resync ms p50/p99/p99.9/max", "resync_ms"));
    c.push_back(Latencies("observer delivery ms", "delivery_ms"));
    c.push_back(Field("srv cores", {"server", "cores"}, 2));
    c.push_back(Field("errors", {"errors"}));
  } else if (workload == "abuse") {
    c.erase(c.begin() + 1);  // every phase is --duration long
    c.push_back(Text("from", "source"));
    c.push_back(BystanderP99("login p99 ms", "login_ms"));
    c.push_back(BystanderP99("sync p99 ms", "sync_ms"));
    c.push_back(BystanderP99("send p99 ms", "send_ms"));
    c.push_back(BystanderErrors("errors login/sync/send/closed/unanswered"));
    c.push_back(Field("srv CPU s", {"server", "cpu_s"}, 2));
    c.push_back(Field("srv peak RSS KiB", {"server", "rss_kb_peak"}));
    c.push_back(Text("attack sent", "attack_did"));
    c.push_back(Text("what the server did to it", "server_did"));
  } else if (workload == "w5") {
    c.push_back(Field("pages/s", {"rate", "pages"}));
    c.push_back(Latencies("page ms p50/p99/p99.9/max", "ack_ms"));
    c.push_back(Field("srv cores", {"server", "cores"}, 2));
    c.push_back(Field("pages per srv CPU-s", {"server", "per_cpu_s", "pages"}));
    c.push_back(Field("errors", {"errors"}));
  } else {
    c.push_back(Field("sent/s", {"rate", "sent"}));
    c.push_back(Field("delivered/s", {"rate", "delivered"}));
    c.push_back(Latencies("ack ms p50/p99/p99.9/max", "ack_ms"));
    c.push_back(Latencies("delivery ms p50/p99/p99.9/max", "delivery_ms"));
    c.push_back(Field("srv cores", {"server", "cores"}, 2));
    c.push_back(Field("delivered per srv CPU-s", {"server", "per_cpu_s", "delivered"}));
    c.push_back(Field("client cores", {"client_cores"}, 2));
    c.push_back(Field("errors", {"errors"}));
  }
  return c;
}

std::vector<std::vector<std::string>> Rows(const json::object& report,
                                           const std::vector<Column>& cols) {
  std::vector<std::vector<std::string>> rows;
  const json::value* phases = report.if_contains("phases");
  if (phases == nullptr || !phases->is_array()) return rows;
  const bool w1 = report.at("workload").as_string() == "w1";
  for (const auto& p : phases->as_array()) {
    // Connecting is W1's subject; elsewhere it is set-up, and only in the JSON.
    if (!w1 && p.at("name").as_string() == "connect+auth") continue;
    std::vector<std::string> row;
    for (const auto& col : cols) row.push_back(col.value(p.as_object()));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string SummaryLine(const json::object& report) {
  std::string out;
  if (const json::value* s = report.if_contains("summary"); s && s->is_object()) {
    for (const auto& [k, v] : s->as_object()) {
      out += std::string(k) + "=" +
             (v.is_number() ? Num(&v, v.is_double() ? 1 : 0) : json::serialize(v)) + "  ";
    }
  }
  return out;
}

}  // namespace

std::string TextTable(const json::object& report) {
  const std::string workload(report.at("workload").as_string());
  const auto cols = ColumnsFor(workload);
  const auto rows = Rows(report, cols);
  std::vector<size_t> width(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) width[i] = cols[i].title.size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream out;
  out << workload << " against " << std::string(report.at("server").as_string()) << "\n";
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      out << (i == 0 ? "" : "  ");
      out << cells[i] << std::string(width[i] - cells[i].size(), ' ');
    }
    out << "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  line(titles);
  for (const auto& r : rows) line(r);
  out << "summary: " << SummaryLine(report) << "\n";
  if (const json::value* p = report.if_contains("problems");
      p && p->is_array() && !p->as_array().empty()) {
    for (const auto& problem : p->as_array())
      out << "PROBLEM: " << std::string(problem.as_string()) << "\n";
  }
  return out.str();
}

std::string MarkdownTable(const std::vector<json::object>& reports) {
  if (reports.empty()) return {};
  const std::string workload(reports.front().at("workload").as_string());
  const auto cols = ColumnsFor(workload);
  std::ostringstream out;
  out << "| server |";
  for (const auto& c : cols) out << " " << c.title << " |";
  out << "\n|---|";
  for (size_t i = 0; i < cols.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& report : reports) {
    for (const auto& r : Rows(report, cols)) {
      out << "| " << std::string(report.at("server").as_string()) << " |";
      for (const auto& cell : r) out << " " << cell << " |";
      out << "\n";
    }
  }
  out << "\n";
  for (const auto& report : reports) {
    out << "- " << std::string(report.at("server").as_string()) << ": " << SummaryLine(report)
        << "\n";
    if (const json::value* p = report.if_contains("problems"); p && p->is_array()) {
      for (const auto& problem : p->as_array()) {
        out << "  - **problem:** " << std::string(problem.as_string()) << "\n";
      }
    }
  }
  return out.str();
}

std::string MarkdownTable(const json::object& report) {
  return MarkdownTable(std::vector<json::object>{report});
}

json::object MachineFacts() {
  json::object m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  int cpus = 0;
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && !m.contains("cpu")) {
      m["cpu"] = line.substr(line.find(':') + 2);
    }
    if (line.rfind("processor", 0) == 0) ++cpus;
  }
  m["cpus"] = cpus;
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  std::ifstream loadavg("/proc/loadavg");
  double l1 = 0, l5 = 0, l15 = 0;
  if (loadavg >> l1 >> l5 >> l15) m["loadavg"] = json::array{l1, l5, l15};
  return m;
}

}  // namespace parley::bench
