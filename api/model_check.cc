#include "api/model_check.h"

namespace esm::api {

void ModelCheck::violation(std::string shown, const std::string& member, const std::string& constraint) {
  items_.push_back("Value " + shown + " at '" + member + "' failed to satisfy constraint: " + constraint);
}

void ModelCheck::range(const std::string& member, long long v, long long lo, long long hi) {
  if (v < lo)
    value(std::to_string(v), member, "Member must have value greater than or equal to " + std::to_string(lo));
  else if (v > hi)
    value(std::to_string(v), member, "Member must have value less than or equal to " + std::to_string(hi));
}

void ModelCheck::length(const std::string& member, const std::string& v, std::size_t lo, std::size_t hi) {
  if (v.size() < lo)
    value(v, member, "Member must have length greater than or equal to " + std::to_string(lo));
  else if (v.size() > hi)
    value(v, member, "Member must have length less than or equal to " + std::to_string(hi));
}

bool ModelCheck::one_of(const std::string& member, const std::string& v, std::initializer_list<const char*> values) {
  return one_of_any(member, v, values);
}

std::string ModelCheck::message() const {
  if (items_.empty()) return {};
  std::string m = std::to_string(items_.size()) +
                  (items_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (std::size_t i = 0; i < items_.size(); ++i) m += (i ? "; " : "") + items_[i];
  return m;
}

}  // namespace esm::api
