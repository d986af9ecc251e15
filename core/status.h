#pragma once
// Status and Result<T>: the error values every esmd layer returns instead of throwing.
// A Status carries a canonical code and a message; api/errors.cc holds the one table from code
// to (HTTP status, AWS error type) for Lambda. The services (services/<source>/) return their
// own typed errors instead (core/expected.h), which each front-end's error table words.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace esm {

enum class Code {
  kOk,
  kInvalidParameter,  // a semantic check failed (Lambda's InvalidParameterValueException)
  kValidation,        // a model-level check failed: type, range, enum, pattern, required
  kNotFound,          // the named resource does not exist
  kConflict,          // the resource already exists
  kInUse,             // the resource is in a state that forbids the call
  kTooLarge,          // the request body is over the limit
  kUnknownOperation,  // no route for this method and path
  kInternal,          // a bug or an I/O failure on our side
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status invalid_parameter(std::string m) { return {Code::kInvalidParameter, std::move(m)}; }
inline Status validation_error(std::string m) { return {Code::kValidation, std::move(m)}; }
inline Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
inline Status in_use(std::string m) { return {Code::kInUse, std::move(m)}; }
inline Status internal_error(std::string m) { return {Code::kInternal, std::move(m)}; }

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}     // NOLINT(google-explicit-constructor)

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace esm
