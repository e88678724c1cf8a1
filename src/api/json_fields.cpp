#include "api/json_fields.h"

namespace parley {

namespace json = boost::json;

Result<json::object> ParseJsonObject(std::string_view text) {
  json::parse_options options;
  options.max_depth = 32;  // client input: deep nesting buys nothing and costs stack
  json::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) return Error::InvalidRequest("malformed JSON: " + ec.message());
  if (!value.is_object()) return Error::InvalidRequest("the request must be a JSON object");
  return std::move(value.get_object());
}

Result<std::string> RequireString(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return Error::InvalidRequest(std::string(key) + " is required");
  if (!v->is_string()) return Error::InvalidRequest(std::string(key) + " must be a string");
  return std::string(v->get_string());
}

Result<std::optional<std::string>> OptionalString(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return Error::InvalidRequest(std::string(key) + " must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<int64_t> RequireInt(const json::object& obj, std::string_view key) {
  auto v = OptionalInt(obj, key);
  if (!v.ok()) return std::move(v).error();
  if (!v->has_value()) return Error::InvalidRequest(std::string(key) + " is required");
  return **v;
}

Result<std::optional<int64_t>> OptionalInt(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  return Error::InvalidRequest(std::string(key) + " must be an integer");
}

Status RejectUnknownFields(const json::object& obj,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& field : obj) {
    bool known = false;
    for (std::string_view a : allowed) known = known || field.key() == a;
    if (!known) return Error::InvalidRequest("unknown field: " + std::string(field.key()));
  }
  return Status::Ok();
}

json::object ErrorObject(const Error& error) {
  json::object inner;
  inner["code"] = CodeName(error.code);
  inner["message"] = error.message;
  if (error.retry_after_ms) inner["retry_after_ms"] = *error.retry_after_ms;
  json::object outer;
  outer["error"] = std::move(inner);
  return outer;
}

std::string ErrorBody(const Error& error) { return json::serialize(ErrorObject(error)); }

}  // namespace parley
