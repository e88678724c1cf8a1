#include "common/text_rules.h"

#include <string>

#include "common/utf8.h"

namespace parley {

Status CheckLabel(std::string_view text, size_t max_bytes, std::string_view what) {
  if (text.size() > max_bytes || !IsValidUtf8(text)) {
    return Error::InvalidRequest(std::string(what) + " must be valid UTF-8 of at most " +
                                 std::to_string(max_bytes) + " bytes");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7F) {
      return Error::InvalidRequest(std::string(what) + " must not contain control characters");
    }
  }
  return Status::Ok();
}

}  // namespace parley
