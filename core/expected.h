#pragma once
// Expected<T, E>: a value or a typed error, for the services layer (services/<source>/), whose
// errors are an enum kind with structured fields and no prose: the protocol front-end in api/
// owns the words. (std::expected is C++23; esmd is C++20.)

#include <utility>
#include <variant>

namespace esm {

template <typename E>
struct Unexpected {
  E error;
};
template <typename E>
Unexpected<E> unexpected(E e) {
  return {std::move(e)};
}

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}                // NOLINT
  Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}      // NOLINT
  Expected(E e) requires(!std::is_same_v<T, E>) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

// Expected<void, E>: success or a typed error.
template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  Expected(Unexpected<E> e) : e_(std::move(e.error)), ok_(false) {}  // NOLINT
  Expected(E e) : e_(std::move(e)), ok_(false) {}                    // NOLINT
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return e_; }

 private:
  E e_{};
  bool ok_ = true;
};

}  // namespace esm
