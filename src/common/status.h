#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace parley {

/// The one error taxonomy of Parley (see ../shared/API.md). Every failure a client can see
/// maps to exactly one of these; HttpStatus() and CodeName() are the only mappings.
enum class ErrorCode {
  kInvalidRequest,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kConflict,
  kRateLimited,
  kPayloadTooLarge,
  kUnavailable,
  kInternal,
};

/// The wire name, e.g. "invalid_request".
std::string_view CodeName(ErrorCode code);
/// The HTTP status that goes with the code, e.g. 400.
int HttpStatus(ErrorCode code);

/// A failure with a sentence for humans. `retry_after_ms` is set only for kRateLimited.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::optional<int64_t> retry_after_ms;

  static Error InvalidRequest(std::string message) {
    return {ErrorCode::kInvalidRequest, std::move(message), {}};
  }
  static Error Unauthorized(std::string message) {
    return {ErrorCode::kUnauthorized, std::move(message), {}};
  }
  static Error Forbidden(std::string message) {
    return {ErrorCode::kForbidden, std::move(message), {}};
  }
  static Error NotFound(std::string message) {
    return {ErrorCode::kNotFound, std::move(message), {}};
  }
  static Error Conflict(std::string message) {
    return {ErrorCode::kConflict, std::move(message), {}};
  }
  static Error RateLimited(int64_t retry_after_ms) {
    return {ErrorCode::kRateLimited, "too many requests, retry later", retry_after_ms};
  }
  static Error PayloadTooLarge(std::string message) {
    return {ErrorCode::kPayloadTooLarge, std::move(message), {}};
  }
  static Error Unavailable(std::string message) {
    return {ErrorCode::kUnavailable, std::move(message), {}};
  }
  static Error Internal(std::string message) {
    return {ErrorCode::kInternal, std::move(message), {}};
  }
};

/// A value or an Error. Per-request paths return these instead of throwing.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

/// Success or an Error, for operations that return nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  static Status Ok() { return {}; }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace parley
