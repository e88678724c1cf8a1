// Feeds arbitrary bytes to the JSON body decoding that every HTTP handler starts with.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/json_fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = parley::ParseJsonObject(text);
  if (!body.ok()) {
    (void)parley::ErrorBody(body.error());
    return 0;
  }
  (void)parley::RejectUnknownFields(*body, {"username", "password", "display_name"});
  (void)parley::RequireString(*body, "username");
  (void)parley::OptionalString(*body, "display_name");
  (void)parley::RequireInt(*body, "limit");
  (void)parley::OptionalInt(*body, "after_seq");
  return 0;
}
