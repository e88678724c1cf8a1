#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley {

/// Parses `text` as a JSON object. kInvalidRequest (with the parser's reason) for malformed
/// JSON or a value that is not an object. Never throws; nesting depth is bounded.
Result<boost::json::object> ParseJsonObject(std::string_view text);

/// Typed field access that turns a client's mistake into a clear kInvalidRequest naming the
/// field ("username must be a string"). Missing optional fields and explicit nulls are nullopt.
Result<std::string> RequireString(const boost::json::object& obj, std::string_view key);
Result<std::optional<std::string>> OptionalString(const boost::json::object& obj,
                                                  std::string_view key);
Result<int64_t> RequireInt(const boost::json::object& obj, std::string_view key);
Result<std::optional<int64_t>> OptionalInt(const boost::json::object& obj, std::string_view key);

/// kInvalidRequest naming the first key of `obj` that is not in `allowed`. Unknown fields are
/// rejected so that a misspelt field is an error instead of being silently ignored.
Status RejectUnknownFields(const boost::json::object& obj,
                           std::initializer_list<std::string_view> allowed);

/// `{"error":{"code":..,"message":..[,"retry_after_ms":..]}}` as in the API contract.
boost::json::object ErrorObject(const Error& error);
std::string ErrorBody(const Error& error);

}  // namespace parley
