#include "api/ws_frames.h"

#include "api/json_fields.h"

namespace parley {

namespace json = boost::json;

namespace {
constexpr size_t kMaxIdLength = 128;
}

Result<ClientFrame> DecodeClientFrame(std::string_view text, json::value& id) {
  id = nullptr;
  auto obj = ParseJsonObject(text);
  if (!obj.ok()) return std::move(obj).error();
  if (const json::value* v = obj->if_contains("id")) {
    const bool usable = (v->is_string() && v->get_string().size() <= kMaxIdLength) ||
                        v->is_int64() || v->is_uint64() || v->is_double();
    if (!usable)
      return Error::InvalidRequest("id must be a string of at most 128 characters or a number");
    id = *v;
  }
  auto type = RequireString(*obj, "type");
  if (!type.ok()) return std::move(type).error();
  ClientFrame frame;
  frame.type = std::move(*type);
  frame.id = id;
  frame.fields = std::move(*obj);
  return frame;
}

Frame ErrorFrame(const json::value& id, const Error& error) {
  json::object out;
  out["type"] = "error";
  if (!id.is_null()) out["re"] = id;
  out["error"] = ErrorObject(error)["error"];
  return MakeFrame(json::serialize(out));
}

Frame ReplyFrame(std::string_view type, const json::value& id, json::object fields) {
  json::object out;
  out.reserve(fields.size() + 2);
  out["type"] = type;
  if (!id.is_null()) out["re"] = id;
  for (auto& field : fields) out[field.key()] = std::move(field.value());
  return MakeFrame(json::serialize(out));
}

}  // namespace parley
