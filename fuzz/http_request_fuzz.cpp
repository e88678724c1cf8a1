// Feeds arbitrary bytes to the strict HTTP/1.1 request reading that parleyd's HTTP sessions
// use (src/net/http_request_check.h): the head scanner, Beast's parser as configured there,
// the header checks and the body. Any crash, leak or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/http_request_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)parley::net::CheckRequestBytes(bytes, 64 * 1024);
  return 0;
}
