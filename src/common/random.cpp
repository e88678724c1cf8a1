#include "common/random.h"

#include <sodium.h>

#include <vector>

namespace parley {

void InitCrypto() {
  // sodium_init() is idempotent and thread-safe; the static makes later calls free.
  static const int kInit = sodium_init();
  (void)kInit;
}

std::string RandomHex(size_t bytes) {
  InitCrypto();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string out(bytes * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), raw.data(), raw.size());
  out.pop_back();
  return out;
}

std::string RandomToken(size_t bytes) {
  InitCrypto();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  const size_t len = sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(len - 1);  // drop the terminating NUL that sodium writes
  return out;
}

std::string NewId(char kind) { return std::string(1, kind) + "_" + RandomHex(16); }

}  // namespace parley
