#include "auth/jwt.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

#include "common/random.h"

namespace parley {
namespace {

static_assert(std::tuple_size_v<JwtKey> == crypto_auth_hmacsha256_KEYBYTES);

constexpr int kB64Variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";
// Our tokens are ~250 bytes; the cap bounds the work an unauthenticated caller can cause.
constexpr size_t kMaxTokenBytes = 4096;

std::string Base64UrlEncode(const void* data, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, kB64Variant), '\0');
  sodium_bin2base64(out.data(), out.size(), static_cast<const unsigned char*>(data), size,
                    kB64Variant);
  out.pop_back();  // the NUL that sodium writes
  return out;
}

// Strict: no padding, no whitespace, no trailing garbage, no non-zero leftover bits, so every
// byte string has exactly one accepted encoding.
std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  size_t out_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &out_len, nullptr, kB64Variant) != 0) {
    return std::nullopt;
  }
  out.resize(out_len);
  return out;
}

std::optional<boost::json::object> ParseObject(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec);
  if (ec) return std::nullopt;
  boost::json::object* object = value.if_object();
  if (object == nullptr) return std::nullopt;
  return std::move(*object);
}

const boost::json::string* StringField(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value == nullptr ? nullptr : value->if_string();
}

const int64_t* IntField(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value == nullptr ? nullptr : value->if_int64();
}

Error Malformed() { return Error::Unauthorized("malformed access token"); }

std::string ErrnoText(int err) { return std::strerror(err); }

Error KeyError(const std::string& path, const std::string& what) {
  return Error::Internal("JWT key file " + path + ": " + what);
}

// Reads exactly `size` bytes. False on error (err = errno) or early end of file (err = 0).
bool ReadFully(int fd, unsigned char* buf, size_t size, int& err) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, buf + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : 0;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes all `size` bytes. False on error, with err = errno.
bool WriteFully(int fd, const unsigned char* buf, size_t size, int& err) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, buf + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Closes the descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// nullopt when there is no file at `path`, so that the caller can create one.
std::optional<Result<JwtKey>> ReadKey(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    return KeyError(path, "cannot open: " + ErrnoText(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return KeyError(path, "cannot stat: " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return KeyError(path, "not a regular file");
  JwtKey key{};
  if (st.st_size != static_cast<off_t>(key.size())) {
    return KeyError(path, "is " + std::to_string(st.st_size) + " bytes, expected " +
                              std::to_string(key.size()) +
                              " (delete it to generate a new key; every session ends)");
  }
  int err = 0;
  if (!ReadFully(fd.get(), key.data(), key.size(), err)) {
    return KeyError(path, err != 0 ? "cannot read: " + ErrnoText(err) : "shorter than it says");
  }
  return Result<JwtKey>(key);
}

}  // namespace

JwtSigner::JwtSigner(JwtKey key, const Clock& clock) : key_(key), clock_(clock) { InitCrypto(); }

std::string JwtSigner::Issue(const std::string& user_id, const std::string& device_id,
                             int ttl_s) const {
  const int64_t now_s = clock_.NowMs() / 1000;
  boost::json::object claims;
  claims["sub"] = user_id;
  claims["did"] = device_id;
  claims["iat"] = now_s;
  claims["exp"] = now_s + ttl_s;
  const std::string payload = boost::json::serialize(claims);

  std::string token = Base64UrlEncode(kHeaderJson.data(), kHeaderJson.size());
  token += '.';
  token += Base64UrlEncode(payload.data(), payload.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                         key_.data());
  token += '.';
  token += Base64UrlEncode(mac, sizeof mac);
  return token;
}

Result<AccessClaims> JwtSigner::Verify(std::string_view token) const {
  if (token.size() > kMaxTokenBytes) return Malformed();
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Malformed();
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Malformed();
  }
  const std::string_view signing_input = token.substr(0, dot2);
  const std::optional<std::string> mac = Base64UrlDecode(token.substr(dot2 + 1));
  if (!mac || mac->size() != crypto_auth_hmacsha256_BYTES) return Malformed();
  if (crypto_auth_hmacsha256_verify(reinterpret_cast<const unsigned char*>(mac->data()),
                                    reinterpret_cast<const unsigned char*>(signing_input.data()),
                                    signing_input.size(), key_.data()) != 0) {
    return Error::Unauthorized("invalid access token signature");
  }

  // Only our key could have produced what follows, but the header is checked anyway so that a
  // token is never accepted under an algorithm other than the one it names.
  const std::optional<std::string> header_json = Base64UrlDecode(token.substr(0, dot1));
  if (!header_json) return Malformed();
  const std::optional<boost::json::object> header = ParseObject(*header_json);
  if (!header) return Malformed();
  const boost::json::string* alg = StringField(*header, "alg");
  if (alg == nullptr || *alg != "HS256") {
    return Error::Unauthorized("unsupported access token algorithm");
  }

  const std::optional<std::string> payload_json =
      Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_json) return Malformed();
  const std::optional<boost::json::object> payload = ParseObject(*payload_json);
  if (!payload) return Malformed();
  const boost::json::string* sub = StringField(*payload, "sub");
  const boost::json::string* did = StringField(*payload, "did");
  const int64_t* exp = IntField(*payload, "exp");
  if (sub == nullptr || sub->empty() || did == nullptr || did->empty() || exp == nullptr) {
    return Error::Unauthorized("access token lacks required claims");
  }
  int64_t iat = 0;
  if (payload->contains("iat")) {
    const int64_t* iat_field = IntField(*payload, "iat");
    if (iat_field == nullptr) return Error::Unauthorized("access token lacks required claims");
    iat = *iat_field;
  }
  if (*exp <= clock_.NowMs() / 1000) return Error::Unauthorized("access token expired");

  AccessClaims claims;
  claims.user_id.assign(sub->data(), sub->size());
  claims.device_id.assign(did->data(), did->size());
  claims.issued_at_s = iat;
  claims.expires_at_s = *exp;
  return claims;
}

Result<JwtKey> LoadOrCreateKey(const std::string& path) {
  if (std::optional<Result<JwtKey>> existing = ReadKey(path)) return std::move(*existing);

  InitCrypto();
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    const int open_errno = errno;
    // Another process created it between our open and this one: use theirs.
    if (open_errno == EEXIST) {
      if (std::optional<Result<JwtKey>> raced = ReadKey(path)) return std::move(*raced);
    }
    return KeyError(path, "cannot create: " + ErrnoText(open_errno));
  }
  JwtKey key{};
  randombytes_buf(key.data(), key.size());
  // fchmod because a umask could have changed the mode; fsync so that a crash cannot leave a
  // short key file behind that would stop the next start.
  int err = 0;
  bool ok = ::fchmod(fd.get(), 0600) == 0;
  ok = ok && WriteFully(fd.get(), key.data(), key.size(), err);
  ok = ok && ::fsync(fd.get()) == 0;
  if (!ok) {
    const int cause = err != 0 ? err : errno;
    ::unlink(path.c_str());
    return KeyError(path, "cannot write: " + ErrnoText(cause));
  }
  return key;
}

}  // namespace parley
