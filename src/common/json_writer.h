#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace parley {

/// Writes JSON text straight into a string, for the frames sent most (messages, acks, sync,
/// history). Building a boost::json tree first and serializing it cost several allocations
/// per field; a sync reply listing a group of 100 was ~0.8M instructions of JSON alone
/// (docs/BENCHMARKS.md, W4). Commas are placed automatically; keys and values must alternate
/// inside objects. Strings must be valid UTF-8 (every string Parley stores is checked).
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  /// A value that is already JSON text (e.g. a request id echoed back).
  JsonWriter& Raw(std::string_view json);

  /// `key` then `value`, for the common case.
  template <class T>
  JsonWriter& Field(std::string_view key, const T& value);

 private:
  void BeforeValue();

  std::string& out_;
  // One entry per open container: whether it has had an element yet.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

/// Appends `text` as a quoted JSON string.
void AppendJsonString(std::string& out, std::string_view text);

/// The text of one JSON object whose fields `write(JsonWriter&)` writes; `reserve`: a size hint.
template <class Write>
std::string JsonObjectText(Write&& write, size_t reserve = 0) {
  std::string text;
  text.reserve(reserve);
  JsonWriter w(text);
  w.BeginObject();
  write(w);
  w.EndObject();
  return text;
}

template <class T>
JsonWriter& JsonWriter::Field(std::string_view key, const T& value) {
  Key(key);
  if constexpr (std::is_same_v<T, bool>) {
    return Bool(value);
  } else if constexpr (std::is_integral_v<T>) {
    return Int(static_cast<int64_t>(value));
  } else {
    return String(value);
  }
}

}  // namespace parley
