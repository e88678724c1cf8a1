#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

namespace parley::bench {

/// The report as a fixed-width table for a terminal: one row per phase, with the columns that
/// matter for its workload, then the summary and any problems.
std::string TextTable(const boost::json::object& report);

/// The same rows as a Markdown table, for docs/BENCHMARKS.md.
std::string MarkdownTable(const boost::json::object& report);

/// Several reports of one workload (e.g. parleyd and the bare relay) in one Markdown table: the
/// columns of the first, one block of rows per report, then each report's summary line.
std::string MarkdownTable(const std::vector<boost::json::object>& reports);

/// Host facts for the report: CPU model and count, kernel, load average now.
boost::json::object MachineFacts();

}  // namespace parley::bench
