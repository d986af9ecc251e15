// EventFilter against a naive reference matcher, on random patterns and events.
//
// The reference follows filtering.md §8 to the letter and as plainly as possible: expand $or
// into alternatives, flatten the event into (dotted path, leaf, array coordinates), then try
// every combination of leaves for an alternative's fields, in key order (exists: false holds
// when no leaf at its path is compatible with the leaves chosen for the fields before it). It is slow and shares no code with
// pollers/filter.cc. The generator draws from a small vocabulary so that random patterns and
// events collide often (same keys, same values, arrays of objects, dotted keys, empty arrays).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "pollers/filter.h"

namespace esm::pollers {
namespace {

using rapidjson::Value;

// ---- the reference matcher ----------------------------------------------------------------

std::string text(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

std::string lower_ascii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Backtracking glob over the pattern text with its escapes.
bool glob(const std::string& p, std::size_t i, const std::string& s, std::size_t j) {
  if (i == p.size()) return j == s.size();
  if (p[i] == '*') {
    for (std::size_t k = j; k <= s.size(); ++k)
      if (glob(p, i + 1, s, k)) return true;
    return false;
  }
  char want = p[i];
  std::size_t next = i + 1;
  if (want == '\\') {
    want = p[i + 1];
    next = i + 2;
  }
  return j < s.size() && s[j] == want && glob(p, next, s, j + 1);
}

bool ipv4(const std::string& s, std::uint32_t& out) {
  unsigned a, b, c, d;
  char extra;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4) return false;
  if (a > 255 || b > 255 || c > 255 || d > 255) return false;
  out = (a << 24) | (b << 16) | (c << 8) | d;
  return true;
}

std::vector<std::string> string_values(const Value& v) {
  std::vector<std::string> out;
  if (v.IsString()) out.push_back(text(v));
  if (v.IsArray())
    for (const auto& e : v.GetArray()) out.push_back(text(e));
  return out;
}

bool reference_accepts(const Value& m, const Value& leaf) {
  if (m.IsString()) return leaf.IsString() && text(leaf) == text(m);
  if (m.IsNumber()) return leaf.IsNumber() && leaf.GetDouble() == m.GetDouble();
  if (m.IsBool()) return leaf.IsBool() && leaf.GetBool() == m.GetBool();
  if (m.IsNull()) return leaf.IsNull();
  const std::string op = text(m.MemberBegin()->name);
  const Value& arg = m.MemberBegin()->value;
  const bool s = leaf.IsString();
  const std::string str = s ? text(leaf) : "";
  if (op == "exactly") return s && str == text(arg);
  if (op == "prefix" || op == "suffix") {
    std::string want = arg.IsString() ? text(arg) : text(arg["equals-ignore-case"]);
    std::string have = str;
    if (!arg.IsString()) {
      want = lower_ascii(want);
      have = lower_ascii(have);
    }
    if (!s || have.size() < want.size()) return false;
    return op == "prefix" ? have.compare(0, want.size(), want) == 0
                          : have.compare(have.size() - want.size(), want.size(), want) == 0;
  }
  if (op == "equals-ignore-case") return s && lower_ascii(str) == lower_ascii(text(arg));
  if (op == "exists") return arg.GetBool();
  if (op == "wildcard") return s && glob(text(arg), 0, str, 0);
  if (op == "cidr") {
    const std::string c = text(arg);
    const auto slash = c.find('/');
    std::uint32_t base = 0, ip = 0;
    ipv4(c.substr(0, slash), base);
    const int mask = std::stoi(c.substr(slash + 1));
    const std::uint32_t host = mask == 0 ? 0xFFFFFFFFu : (0xFFFFFFFFu >> mask);
    return s && ipv4(str, ip) && ip >= base && ip <= (base | host);
  }
  if (op == "numeric") {
    if (!leaf.IsNumber()) return false;
    const double d = leaf.GetDouble();
    for (rapidjson::SizeType k = 0; k < arg.Size(); k += 2) {
      const std::string o = text(arg[k]);
      const double n = arg[k + 1].GetDouble();
      const bool ok = o == "=" ? d == n : o == "<" ? d < n : o == "<=" ? d <= n : o == ">" ? d > n : d >= n;
      if (!ok) return false;
    }
    return true;
  }
  // anything-but: true unless the leaf is excluded.
  if (arg.IsNumber() || (arg.IsArray() && arg[0].IsNumber())) {
    if (!leaf.IsNumber()) return true;
    if (arg.IsNumber()) return leaf.GetDouble() != arg.GetDouble();
    for (const auto& e : arg.GetArray())
      if (e.GetDouble() == leaf.GetDouble()) return false;
    return true;
  }
  if (!s) return true;
  if (arg.IsString() || arg.IsArray()) {
    for (const auto& x : string_values(arg))
      if (x == str) return false;
    return true;
  }
  const std::string inner = text(arg.MemberBegin()->name);
  for (const auto& x : string_values(arg.MemberBegin()->value)) {
    if (inner == "prefix" && str.compare(0, x.size(), x) == 0 && str.size() >= x.size()) return false;
    if (inner == "suffix" && str.size() >= x.size() && str.compare(str.size() - x.size(), x.size(), x) == 0)
      return false;
    if (inner == "equals-ignore-case" && lower_ascii(str) == lower_ascii(x)) return false;
    if (inner == "wildcard" && glob(x, 0, str, 0)) return false;
  }
  return true;
}

struct Leaf {
  std::string path;
  const Value* value;
  std::vector<std::pair<const Value*, unsigned>> coords;
};

void flatten(const Value& v, const std::string& path, std::vector<std::pair<const Value*, unsigned>>& coords,
             std::vector<Leaf>& out) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject())
      flatten(m.value, path.empty() ? text(m.name) : path + "." + text(m.name), coords, out);
  } else if (v.IsArray()) {
    // Only an object or array element records its index (event-ruler's Event does the same): a
    // scalar element is tied to the arrays around its own, not to its place in it.
    for (unsigned i = 0; i < v.Size(); ++i) {
      const bool tied = v[i].IsObject() || v[i].IsArray();
      if (tied) coords.emplace_back(&v, i);
      flatten(v[i], path, coords, out);
      if (tied) coords.pop_back();
    }
  } else {
    out.push_back(Leaf{path, &v, coords});
  }
}

using Field = std::pair<std::string, const Value*>;  // dotted path, value list

std::vector<std::vector<Field>> alternatives(const Value& obj, const std::string& prefix) {
  std::vector<std::vector<Field>> result(1);
  for (const auto& m : obj.GetObject()) {
    std::vector<std::vector<Field>> options;
    if (text(m.name) == "$or") {
      for (const auto& branch : m.value.GetArray())
        for (auto& a : alternatives(branch, prefix)) options.push_back(std::move(a));
    } else {
      const std::string path = prefix.empty() ? text(m.name) : prefix + "." + text(m.name);
      if (m.value.IsObject())
        options = alternatives(m.value, path);
      else
        options = {{Field{path, &m.value}}};
    }
    std::vector<std::vector<Field>> next;
    for (const auto& a : result)
      for (const auto& o : options) {
        auto c = a;
        c.insert(c.end(), o.begin(), o.end());
        next.push_back(std::move(c));
      }
    result = std::move(next);
  }
  return result;
}

bool compatible(const Leaf& a, const Leaf& b) {
  for (const auto& x : a.coords)
    for (const auto& y : b.coords)
      if (x.first == y.first && x.second != y.second) return false;
  return true;
}

// One field of an alternative, as the reference tries it.
struct Option {
  bool absent_ok = false;
  std::vector<const Leaf*> present;   // every leaf at the path
  std::vector<const Leaf*> accepted;  // the leaves a matcher accepts
};

bool beside(const Leaf& l, const std::vector<const Leaf*>& chosen) {
  for (const Leaf* c : chosen)
    if (!compatible(*c, l)) return false;
  return true;
}

// Fields in key order (as event-ruler walks them): each takes an accepted leaf compatible with
// those chosen so far, or, with exists: false, holds when no leaf at its path is compatible with
// them.
bool pick(const std::vector<Option>& options, std::size_t k, std::vector<const Leaf*>& chosen) {
  if (k == options.size()) return true;
  const Option& o = options[k];
  if (o.absent_ok) {
    bool absent = true;
    for (const Leaf* l : o.present) absent = absent && !beside(*l, chosen);
    if (absent && pick(options, k + 1, chosen)) return true;
  }
  for (const Leaf* l : o.accepted) {
    if (!beside(*l, chosen)) continue;
    chosen.push_back(l);
    if (pick(options, k + 1, chosen)) return true;
    chosen.pop_back();
  }
  return false;
}

bool reference_matches(const std::vector<std::string>& patterns, const Value& event) {
  std::vector<Leaf> leaves;
  std::vector<std::pair<const Value*, unsigned>> coords;
  flatten(event, "", coords, leaves);
  for (const auto& p : patterns) {
    rapidjson::Document d;
    d.Parse(p.c_str());
    for (auto alt : alternatives(d, "")) {
      std::stable_sort(alt.begin(), alt.end(), [](const Field& a, const Field& b) { return a.first < b.first; });
      std::vector<Option> options;
      for (const auto& [path, list] : alt) {
        Option o;
        for (const auto& m : list->GetArray())
          if (m.IsObject() && text(m.MemberBegin()->name) == "exists" && !m.MemberBegin()->value.GetBool())
            o.absent_ok = true;
        for (const Leaf& l : leaves) {
          if (l.path != path) continue;
          o.present.push_back(&l);
          for (const auto& m : list->GetArray())
            if (reference_accepts(m, *l.value)) {
              o.accepted.push_back(&l);
              break;
            }
        }
        options.push_back(std::move(o));
      }
      std::vector<const Leaf*> chosen;
      if (pick(options, 0, chosen)) return true;
    }
  }
  return false;
}

// ---- the generator ----------------------------------------------------------------------------

class Gen {
 public:
  explicit Gen(std::uint32_t seed) : rng_(seed) {}

  std::string event() {
    rapidjson::Document d(rapidjson::kObjectType);
    fill_object(d, d.GetAllocator(), 0);
    return write(d);
  }

  std::string pattern() {
    rapidjson::Document d(rapidjson::kObjectType);
    pattern_object(d, d.GetAllocator(), 0);
    return write(d);
  }

 private:
  using Alloc = rapidjson::Document::AllocatorType;

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < percent; }

  static std::string write(const Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return buf.GetString();
  }

  Value key(Alloc& a, bool dotted_ok) {
    static const char* keys[] = {"a", "b", "c", "a.b", "b.c"};
    return Value(keys[pick(dotted_ok ? 5 : 3)], a);
  }

  Value leaf(Alloc& a) {
    switch (pick(16)) {
      case 0: return Value("x", a);
      case 1: return Value("X", a);
      case 2: return Value("xy", a);
      case 3: return Value("yx", a);
      case 4: return Value("", a);
      case 5: return Value("x*y", a);
      case 6: return Value(1);
      case 7: return Value(1.0);
      case 8: return Value(2);
      case 9: return Value(-3.5);
      case 10: return Value(true);
      case 11: return Value(false);
      case 12: return Value(rapidjson::kNullType);
      case 13: return Value("10.0.0.1", a);
      case 14: return Value("10.1.0.1", a);
      default: return Value("Xy", a);
    }
  }

  Value event_value(Alloc& a, int depth) {
    const int r = pick(10);
    if (depth < 3 && r < 2) {
      Value o(rapidjson::kObjectType);
      fill_object(o, a, depth + 1);
      return o;
    }
    if (depth < 3 && r < 4) {
      Value arr(rapidjson::kArrayType);
      for (int n = pick(4); n > 0; --n) arr.PushBack(event_value(a, depth + 1), a);
      return arr;
    }
    return leaf(a);
  }

  void fill_object(Value& o, Alloc& a, int depth) {
    for (int n = pick(4); n > 0; --n) {
      Value k = key(a, true);
      if (o.HasMember(k)) continue;
      o.AddMember(k, event_value(a, depth), a);
    }
  }

  Value strings(Alloc& a, std::vector<const char*> options, bool non_empty = false) {
    if (chance(50)) {
      const char* s = options[static_cast<std::size_t>(pick(static_cast<int>(options.size())))];
      if (non_empty && !*s) s = "x";
      return Value(s, a);
    }
    Value arr(rapidjson::kArrayType);
    for (int n = 1 + pick(2); n > 0; --n) {
      const char* s = options[static_cast<std::size_t>(pick(static_cast<int>(options.size())))];
      if (non_empty && !*s) s = "y";
      arr.PushBack(Value(s, a), a);
    }
    return arr;
  }

  Value op(Alloc& a, const char* name, Value arg) {
    Value o(rapidjson::kObjectType);
    o.AddMember(Value(name, a), arg, a);
    return o;
  }

  Value matcher(Alloc& a) {
    switch (pick(14)) {
      case 0: return op(a, "prefix", Value(chance(50) ? "x" : (chance(50) ? "" : "y"), a));
      case 1: return op(a, "suffix", Value(chance(50) ? "y" : "x", a));
      case 2: return op(a, chance(50) ? "prefix" : "suffix", op(a, "equals-ignore-case", Value(chance(50) ? "X" : "y", a)));
      case 3: return op(a, "equals-ignore-case", Value(chance(50) ? "xY" : "X", a));
      case 4: {
        Value arg;
        switch (pick(5)) {
          case 0: arg = Value("x", a); break;
          case 1: arg = Value(1); break;
          case 2: {
            arg.SetArray();
            arg.PushBack(Value(1), a).PushBack(Value(-3.5), a);
            break;
          }
          case 3: arg = strings(a, {"x", "xy", ""}); break;
          default: {
            static const char* inner[] = {"prefix", "suffix", "equals-ignore-case", "wildcard"};
            const char* name = inner[pick(4)];
            const bool no_empty = std::string(name) == "prefix" || std::string(name) == "suffix";
            arg = op(a, name, std::string(name) == "wildcard" ? strings(a, {"x*", "*y", "", "x\\*y"})
                                                              : strings(a, {"x", "X", "y", ""}, no_empty));
          }
        }
        return op(a, "anything-but", std::move(arg));
      }
      case 5: {
        Value arr(rapidjson::kArrayType);
        switch (pick(4)) {
          case 0: arr.PushBack(">", a).PushBack(0, a); break;
          case 1: arr.PushBack(">=", a).PushBack(1, a).PushBack("<", a).PushBack(2, a); break;
          case 2: arr.PushBack("=", a).PushBack(1.0, a); break;
          default: arr.PushBack("<=", a).PushBack(-3.5, a); break;
        }
        return op(a, "numeric", std::move(arr));
      }
      case 6: return op(a, "exists", Value(chance(50)));
      case 7: return op(a, "exists", Value(false));
      case 8: return op(a, "cidr", Value(chance(50) ? "10.0.0.0/16" : "10.0.0.1/8", a));
      case 9: {
        static const char* globs[] = {"x*", "*y", "*", "x*y", "x\\*y", "*x*", ""};
        return op(a, "wildcard", Value(globs[pick(7)], a));
      }
      case 10: return op(a, "exactly", Value(chance(50) ? "x" : "", a));
      default: return leaf(a);
    }
  }

  void pattern_object(Value& o, Alloc& a, int depth) {
    const int fields = 1 + pick(3);
    for (int i = 0; i < fields; ++i) {
      if (depth < 2 && chance(12) && !o.HasMember("$or")) {
        Value branches(rapidjson::kArrayType);
        for (int n = 2 + pick(2); n > 0; --n) {
          Value b(rapidjson::kObjectType);
          pattern_object(b, a, depth + 1);
          branches.PushBack(b, a);
        }
        o.AddMember("$or", branches, a);
        continue;
      }
      Value k = key(a, true);
      if (o.HasMember(k)) continue;
      if (depth < 2 && chance(25)) {
        Value sub(rapidjson::kObjectType);
        pattern_object(sub, a, depth + 1);
        o.AddMember(k, sub, a);
      } else {
        Value list(rapidjson::kArrayType);
        for (int n = 1 + pick(3); n > 0; --n) list.PushBack(matcher(a), a);
        o.AddMember(k, list, a);
      }
    }
  }

  std::mt19937 rng_;
};

std::uint32_t seed_from_env() {
  const char* s = std::getenv("ESMD_FILTER_SEED");
  return s ? static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10)) : 20261127u;
}

TEST_CASE("the matcher agrees with the naive reference on random patterns and events") {
  const std::uint32_t seed = seed_from_env();
  Gen gen(seed);
  constexpr int kPatterns = 3000;
  constexpr int kEventsPerPattern = 8;
  int matched = 0, total = 0;
  for (int i = 0; i < kPatterns; ++i) {
    std::vector<std::string> patterns{gen.pattern()};
    if (i % 4 == 0) patterns.push_back(gen.pattern());
    auto filter = EventFilter::compile(patterns);
    INFO("seed " << seed << " (set ESMD_FILTER_SEED to replay), pattern #" << i << ": " << patterns[0]
                 << (patterns.size() > 1 ? " OR " + patterns[1] : "") << "\n  "
                 << filter_pattern_error(patterns[0]));
    REQUIRE(filter);
    for (int e = 0; e < kEventsPerPattern; ++e) {
      const std::string text = gen.event();
      rapidjson::Document event;
      REQUIRE(parse_for_filter(event, text));
      const bool want = reference_matches(patterns, event);
      INFO("event " << text << " reference says " << want);
      REQUIRE(filter->matches(event) == want);
      matched += want;
      ++total;
    }
  }
  // The generator must produce both outcomes often enough for the comparison to mean something.
  CHECK(matched > total / 20);
  CHECK(matched < total - total / 20);
}

}  // namespace
}  // namespace esm::pollers
