#pragma once
// ModelCheck: collects the model-layer violations of one request and words them as AWS's
// Coral services do: "N validation error(s) detected: Value '<v>' at '<member>' failed to
// satisfy constraint: <constraint>; ...". Every front-end that validates a request model
// (Lambda's mapping codec, Kinesis, SQS) builds that message here, so the wording is one.
//
// Usage: call the checks while walking the request, then `if (!ck.ok()) return ck.message()`
// wrapped in the protocol's validation error.

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace esm::api {

class ModelCheck {
 public:
  // `shown` is the value as AWS prints it: quoted('x') or "null".
  void violation(std::string shown, const std::string& member, const std::string& constraint);
  // A string value, printed quoted.
  void value(const std::string& v, const std::string& member, const std::string& constraint) {
    violation(quoted(v), member, constraint);
  }
  // A required member that is absent.
  void null(const std::string& member, const std::string& constraint = "Member must not be null") {
    violation("null", member, constraint);
  }
  // "Member must have value greater than or equal to lo" / "less than or equal to hi".
  void range(const std::string& member, long long v, long long lo, long long hi);
  // "Member must have length greater than or equal to lo" / "less than or equal to hi".
  void length(const std::string& member, const std::string& v, std::size_t lo, std::size_t hi);
  // "Member must satisfy enum value set: [A, B]" unless v is one of the values; true when it is.
  bool one_of(const std::string& member, const std::string& v, std::initializer_list<const char*> values);
  template <typename Container>
  bool one_of_any(const std::string& member, const std::string& v, const Container& values) {
    for (const char* ok : values)
      if (v == ok) return true;
    std::string set;
    for (const char* ok : values) set += (set.empty() ? "" : ", ") + std::string(ok);
    value(v, member, "Member must satisfy enum value set: [" + set + "]");
    return false;
  }

  bool ok() const { return items_.empty(); }
  std::size_t count() const { return items_.size(); }
  // The whole message; empty when there is no violation.
  std::string message() const;

  static std::string quoted(const std::string& v) { return "'" + v + "'"; }

 private:
  std::vector<std::string> items_;
};

}  // namespace esm::api
