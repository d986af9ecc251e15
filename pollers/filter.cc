#include "pollers/filter.h"

#include <arpa/inet.h>
#include <locale.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <spdlog/spdlog.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

namespace esm::pollers {
namespace {

using rapidjson::Value;

// Iterative: a payload of a million nested brackets must not exhaust a poller thread's stack.
// Numbers reach the handler as text (see JsonToDom).
constexpr unsigned kParseFlags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag;

// A JSON number's value, correctly rounded. The filter compares numbers only by value, so each
// is a double. An integer of up to 18 digits is exact in int64 and rounded once to double;
// anything else goes through std::from_chars, and strtod under the "C" locale when from_chars
// finds it out of range (strtod then gives the infinity or the underflowed value).
double number_value(std::string_view token) {
  const bool minus = !token.empty() && token[0] == '-';
  const std::string_view digits = token.substr(minus ? 1 : 0);
  if (digits.size() <= 18 &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t v = 0;
    for (char c : digits) v = v * 10 + (c - '0');
    return static_cast<double>(minus ? -v : v);
  }
  double d = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), d);
  if (ec == std::errc() && end == token.data() + token.size()) return d;
  static const locale_t c_numeric = newlocale(LC_NUMERIC_MASK, "C", static_cast<locale_t>(nullptr));
  const std::string copy(token);
  return c_numeric ? strtod_l(copy.c_str(), nullptr, c_numeric) : std::strtod(copy.c_str(), nullptr);
}

// RapidJSON's events into a Document, with each number converted by number_value() rather than
// by RapidJSON 1.1.0's full-precision strtod, which normalises a zero significand with clz(0),
// undefined behaviour that fuzz/filter.cc found twice: a zero with an exponent or 23 or more
// fraction digits (0e-100 parsed as 1.01e31), and digits that begin 18446744073709551615 then a
// digit from 5, whose rounding wraps the significand to zero
// (0.0000000184467440737095516158 aborted in sanitizer builds). RapidJSON still checks the
// grammar, and refuses an exponent too large for a double.
struct JsonToDom {
  rapidjson::Document& doc;

  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned u) { return doc.Uint(u); }
  bool Int64(std::int64_t i) { return doc.Int64(i); }
  bool Uint64(std::uint64_t u) { return doc.Uint64(u); }
  bool Double(double d) { return doc.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return doc.Double(number_value({s, n})); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc.String(s, n, copy); }
  bool StartObject() { return doc.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType members) { return doc.EndObject(members); }
  bool StartArray() { return doc.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { return doc.EndArray(elements); }
};

// Parses `json` into `doc` as Document::Parse would; false on malformed JSON.
bool parse_json(rapidjson::Document& doc, std::string_view json) {
  bool ok = false;
  auto generate = [&](rapidjson::Document& d) {
    rapidjson::MemoryStream ms(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    rapidjson::Reader reader;
    JsonToDom handler{d};
    ok = !reader.Parse<kParseFlags>(is, handler).IsError();
    return ok;
  };
  doc.Populate(generate);
  return ok;
}

// EventBridge rejects patterns whose $or alternatives multiply out past 1000 (filtering.md §9.6).
constexpr std::size_t kMaxAlternatives = 1000;
// Bounds on the same-array search of one alternative (see consistent_pick()): the leaves kept
// per field, and the steps.
constexpr std::uint32_t kMaxCandidates = 4096;
constexpr std::size_t kSearchBudget = 100000;

// ---- UTF-8 ------------------------------------------------------------------------------------

// Decodes one code point at s[i], advancing i. A malformed byte decodes to 0xDC00 + byte (a lone
// surrogate no valid text produces), so malformed text still compares byte for byte.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  auto bits = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 >= 0xC2 && b0 < 0xE0 && cont(1)) {
    char32_t c = (static_cast<char32_t>(b0 & 0x1F) << 6) | bits(1);
    i += 2;
    return c;
  }
  if (b0 >= 0xE0 && b0 < 0xF0 && cont(1) && cont(2)) {
    char32_t c = (static_cast<char32_t>(b0 & 0x0F) << 12) | (bits(1) << 6) | bits(2);
    if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
      i += 3;
      return c;
    }
  } else if (b0 >= 0xF0 && b0 < 0xF5 && cont(1) && cont(2) && cont(3)) {
    char32_t c = (static_cast<char32_t>(b0 & 0x07) << 18) | (bits(1) << 12) | (bits(2) << 6) | bits(3);
    if (c >= 0x10000 && c <= 0x10FFFF) {
      i += 4;
      return c;
    }
  }
  ++i;
  return 0xDC00 + b0;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const char32_t c = next_code_point(s, i);
    if (c >= 0xDC80 && c <= 0xDCFF) return false;
  }
  return true;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) next_code_point(s, i);
  return n;
}

// Simple one-to-one Unicode case mapping (filtering.md §5.3 PROPOSAL) from glibc's C.UTF-8
// tables; ASCII only if that locale is missing.
locale_t utf8_locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  locale_t loc = utf8_locale();
  return loc ? static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), loc)) : c;
}

char32_t to_upper(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
  locale_t loc = utf8_locale();
  return loc ? static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), loc)) : c;
}

// A string compared ignoring case: event-ruler accepts an event character equal to the
// pattern character or to its lower- or upper-case form.
struct Folded {
  std::u32string exact, lower, upper;

  explicit Folded(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
      const char32_t c = next_code_point(s, i);
      exact.push_back(c);
      lower.push_back(to_lower(c));
      upper.push_back(to_upper(c));
    }
  }
  bool same(std::size_t k, char32_t c) const { return c == exact[k] || c == lower[k] || c == upper[k]; }

  // The first size() code points of s match, starting at byte i; i ends after them.
  bool match_from(std::string_view s, std::size_t& i) const {
    for (std::size_t k = 0; k < exact.size(); ++k) {
      if (i >= s.size()) return false;
      if (!same(k, next_code_point(s, i))) return false;
    }
    return true;
  }
  bool equals(std::string_view s) const {
    std::size_t i = 0;
    return match_from(s, i) && i == s.size();
  }
  bool prefix_of(std::string_view s) const {
    std::size_t i = 0;
    return match_from(s, i);
  }
  bool suffix_of(std::string_view s) const {
    const std::size_t n = code_points(s);
    if (n < exact.size()) return false;
    std::size_t i = 0;
    for (std::size_t skip = n - exact.size(); skip > 0; --skip) next_code_point(s, i);
    return match_from(s, i);
  }
};

// ---- wildcard ---------------------------------------------------------------------------------

// A wildcard pattern as its literal parts: "a*b*" is {"a", "b", ""}; parts.size() - 1 stars.
struct Glob {
  std::vector<std::string> parts;

  bool matches(std::string_view s) const {
    const std::string& first = parts.front();
    if (parts.size() == 1) return s == first;
    const std::string& last = parts.back();
    if (s.size() < first.size() + last.size() || !s.starts_with(first) || !s.ends_with(last)) return false;
    // Between the fixed ends each middle part is taken at its leftmost place: with `*` the only
    // metacharacter, leftmost-first never loses a match and never backtracks.
    std::string_view rest = s.substr(first.size(), s.size() - first.size() - last.size());
    for (std::size_t k = 1; k + 1 < parts.size(); ++k) {
      const auto at = rest.find(parts[k]);
      if (at == std::string_view::npos) return false;
      rest.remove_prefix(at + parts[k].size());
    }
    return true;
  }
};

// `\*` is a literal star and `\\` a literal backslash; any other escape, and two stars in a row,
// are invalid (filtering.md §5.8).
std::optional<Glob> parse_glob(std::string_view text, std::string& why) {
  Glob g;
  g.parts.emplace_back();
  bool last_was_star = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size() || (text[i + 1] != '*' && text[i + 1] != '\\')) {
        why = "wildcard: invalid escape at pos " + std::to_string(i);
        return std::nullopt;
      }
      g.parts.back().push_back(text[++i]);
      last_was_star = false;
    } else if (c == '*') {
      if (last_was_star) {
        why = "Consecutive wildcard characters at pos " + std::to_string(i);
        return std::nullopt;
      }
      g.parts.emplace_back();
      last_was_star = true;
    } else {
      g.parts.back().push_back(c);
      last_was_star = false;
    }
  }
  return g;
}

// ---- cidr -------------------------------------------------------------------------------------

struct IpAddress {
  int bytes = 0;  // 4 or 16; 0: not an address
  std::array<unsigned char, 16> a{};
};

// Dotted-quad IPv4 exactly as inet_pton(AF_INET) takes it (four decimal octets, no leading
// zeros), without its call and copy: events are tested against cidr patterns per leaf.
bool parse_ipv4(std::string_view s, IpAddress& ip) {
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    const std::size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) v = v * 10 + static_cast<unsigned>(s[i++] - '0');
    if (i == start || v > 255 || (s[start] == '0' && i - start > 1)) return false;
    ip.a[static_cast<std::size_t>(octet)] = static_cast<unsigned char>(v);
  }
  if (i != s.size()) return false;
  ip.bytes = 4;
  return true;
}

IpAddress parse_ip(std::string_view s) {
  IpAddress ip;
  if (s.find(':') == std::string_view::npos) {
    parse_ipv4(s, ip);
    return ip;
  }
  char buf[64];
  if (s.empty() || s.size() >= sizeof buf) return ip;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  if (inet_pton(AF_INET6, buf, ip.a.data()) == 1) ip.bytes = 16;
  return ip;
}

// event-ruler keeps the host bits of the base: "10.8.3.7/16" covers 10.8.3.7 .. 10.8.255.255
// (filtering.md §5.7).
struct Cidr {
  IpAddress first, last;

  bool contains(std::string_view s) const {
    if (s.size() < 2 || s.size() > 45) return false;
    const IpAddress ip = parse_ip(s);
    if (ip.bytes != first.bytes) return false;
    const auto n = static_cast<std::size_t>(ip.bytes);
    return std::memcmp(ip.a.data(), first.a.data(), n) >= 0 && std::memcmp(ip.a.data(), last.a.data(), n) <= 0;
  }
};

std::optional<Cidr> parse_cidr(std::string_view text, std::string& why) {
  why = "cidr: malformed " + std::string(text);
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || text.find('/', slash + 1) != std::string_view::npos) return std::nullopt;
  const std::string_view mask_text = text.substr(slash + 1);
  if (mask_text.empty() || mask_text.size() > 3 || mask_text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  const int mask = std::stoi(std::string(mask_text));
  Cidr c;
  c.first = parse_ip(text.substr(0, slash));
  if (c.first.bytes == 0 || mask >= c.first.bytes * 8) return std::nullopt;
  c.last = c.first;
  for (int bit = mask; bit < c.first.bytes * 8; ++bit)
    c.last.a[static_cast<std::size_t>(bit / 8)] |= static_cast<unsigned char>(0x80 >> (bit % 8));
  why.clear();
  return c;
}

// ---- matchers ---------------------------------------------------------------------------------

enum class Op : std::uint8_t {
  kString,           // exact string (also `exactly`)
  kNumber,           // a number, by value
  kBool,
  kNull,
  kPrefix,
  kSuffix,
  kPrefixIgnoreCase,
  kSuffixIgnoreCase,
  kEqualsIgnoreCase,
  kNumeric,
  kExists,           // exists: true (exists: false accepts no leaf: Requirement::absent_ok)
  kCidr,
  kWildcard,
  kButStrings,       // anything-but: the leaf is not one of these strings
  kButNumbers,
  kButPrefixes,
  kButSuffixes,
  kButIgnoreCase,
  kButWildcards,
};

struct Matcher {
  Op op = Op::kNull;
  bool flag = false;
  double number = 0;
  std::string text;
  std::vector<std::string> texts;
  std::vector<double> numbers;
  std::vector<Folded> folded;
  std::vector<Glob> globs;
  // numeric: lower and upper bounds, -inf / +inf when absent.
  double lo = -HUGE_VAL, hi = HUGE_VAL;
  bool lo_inclusive = false, hi_inclusive = false;
  Cidr cidr;
};

// Byte comparisons for the hot path: most candidates differ in length or first byte, which
// these reject without a call to memcmp.
inline bool same_bytes(const char* a, const char* b, std::size_t n) {
  return n == 0 || (a[0] == b[0] && std::memcmp(a, b, n) == 0);
}
inline bool equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && same_bytes(a.data(), b.data(), a.size());
}
inline bool has_prefix(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && same_bytes(s.data(), p.data(), p.size());
}
inline bool has_suffix(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && same_bytes(s.data() + s.size() - p.size(), p.data(), p.size());
}

// An event leaf, classified once and then tested against every matcher at its path.
struct Leaf {
  enum class Kind : std::uint8_t { kString, kNumber, kBool, kNull } kind = Kind::kNull;
  std::string_view text;
  double number = 0;
  bool flag = false;

  explicit Leaf(const Value& v) {
    if (v.IsString()) {
      kind = Kind::kString;
      text = {v.GetString(), v.GetStringLength()};
    } else if (v.IsNumber()) {
      kind = Kind::kNumber;
      number = v.GetDouble();
    } else if (v.IsBool()) {
      kind = Kind::kBool;
      flag = v.GetBool();
    }
  }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kNumber; }
};

bool accepts(const Matcher& m, const Leaf& v) {
  const bool is_string = v.is_string();
  const std::string_view s = v.text;
  switch (m.op) {
    case Op::kString: return is_string && equal(s, m.text);
    case Op::kNumber: return v.is_number() && v.number == m.number;
    case Op::kBool: return v.kind == Leaf::Kind::kBool && v.flag == m.flag;
    case Op::kNull: return v.kind == Leaf::Kind::kNull;
    case Op::kPrefix: return is_string && has_prefix(s, m.text);
    case Op::kSuffix: return is_string && has_suffix(s, m.text);
    case Op::kPrefixIgnoreCase: return is_string && m.folded.front().prefix_of(s);
    case Op::kSuffixIgnoreCase: return is_string && m.folded.front().suffix_of(s);
    case Op::kEqualsIgnoreCase: return is_string && m.folded.front().equals(s);
    case Op::kNumeric: {
      if (!v.is_number()) return false;
      const double d = v.number;
      return (m.lo_inclusive ? d >= m.lo : d > m.lo) && (m.hi_inclusive ? d <= m.hi : d < m.hi);
    }
    case Op::kExists: return true;
    case Op::kCidr: return is_string && m.cidr.contains(s);
    case Op::kWildcard: return is_string && m.globs.front().matches(s);
    // anything-but: every leaf but an excluded one; types never cross (filtering.md §5.4).
    case Op::kButStrings:
      return !is_string || std::none_of(m.texts.begin(), m.texts.end(), [&](const std::string& t) { return equal(s, t); });
    case Op::kButNumbers:
      return !v.is_number() || std::find(m.numbers.begin(), m.numbers.end(), v.number) == m.numbers.end();
    case Op::kButPrefixes:
      return !is_string || std::none_of(m.texts.begin(), m.texts.end(), [&](const std::string& p) { return has_prefix(s, p); });
    case Op::kButSuffixes:
      return !is_string || std::none_of(m.texts.begin(), m.texts.end(), [&](const std::string& p) { return has_suffix(s, p); });
    case Op::kButIgnoreCase:
      return !is_string || std::none_of(m.folded.begin(), m.folded.end(), [&](const Folded& f) { return f.equals(s); });
    case Op::kButWildcards:
      return !is_string || std::none_of(m.globs.begin(), m.globs.end(), [&](const Glob& g) { return g.matches(s); });
  }
  return false;
}

std::string_view str(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// The members of an object with duplicate names resolved as AWS does: the last one wins.
std::vector<const Value::Member*> members_last_wins(const Value& obj) {
  std::vector<const Value::Member*> out;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    bool later = false;
    for (auto jt = it + 1; jt != obj.MemberEnd() && !later; ++jt) later = str(jt->name) == str(it->name);
    if (!later) out.push_back(&*it);
  }
  return out;
}

// ---- compiling one value list -----------------------------------------------------------------

class ListCompiler {
 public:
  explicit ListCompiler(std::string& why) : why_(why) {}

  // A pattern leaf: a non-empty array of literals and operator objects.
  bool compile(const Value& list, std::vector<Matcher>& out, bool& absent_ok) {
    if (!list.IsArray()) return fail("a pattern leaf is not an array");
    if (list.Empty()) return fail("empty array");
    for (const auto& e : list.GetArray()) {
      Matcher m;
      if (e.IsString()) {
        m.op = Op::kString;
        m.text = str(e);
      } else if (e.IsNumber()) {
        m.op = Op::kNumber;
        m.number = e.GetDouble();
      } else if (e.IsBool()) {
        m.op = Op::kBool;
        m.flag = e.GetBool();
      } else if (e.IsNull()) {
        m.op = Op::kNull;
      } else if (e.IsObject()) {
        if (!operator_object(e, m, absent_ok)) return false;
        if (m.op == Op::kExists && !m.flag) continue;  // exists: false matches no leaf
      } else {
        return fail("a value list holds an array");
      }
      out.push_back(std::move(m));
    }
    return true;
  }

 private:
  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }

  bool operator_object(const Value& obj, Matcher& m, bool& absent_ok) {
    const auto members = members_last_wins(obj);
    if (members.size() != 1) return fail("an operator object must have exactly one key");
    const std::string_view op = str(members[0]->name);
    const Value& arg = members[0]->value;
    if (op == "exactly") {
      if (!arg.IsString()) return fail("exactly: operand must be a string");
      m.op = Op::kString;
      m.text = str(arg);
      return true;
    }
    if (op == "prefix" || op == "suffix") {
      const bool prefix = op == "prefix";
      if (arg.IsString()) {
        m.op = prefix ? Op::kPrefix : Op::kSuffix;
        m.text = str(arg);
        return true;
      }
      if (arg.IsObject()) {
        const auto inner = members_last_wins(arg);
        if (inner.size() != 1 || str(inner[0]->name) != "equals-ignore-case" || !inner[0]->value.IsString())
          return fail(std::string(op) + ": only {\"equals-ignore-case\": string} may be nested");
        m.op = prefix ? Op::kPrefixIgnoreCase : Op::kSuffixIgnoreCase;
        m.folded.emplace_back(str(inner[0]->value));
        return true;
      }
      return fail(std::string(op) + ": operand must be a string");
    }
    if (op == "equals-ignore-case") {
      if (!arg.IsString()) return fail("equals-ignore-case: operand must be a string");
      m.op = Op::kEqualsIgnoreCase;
      m.folded.emplace_back(str(arg));
      return true;
    }
    if (op == "anything-but") return anything_but(arg, m);
    if (op == "numeric") return numeric(arg, m);
    if (op == "exists") {
      if (!arg.IsBool()) return fail("exists: operand must be true or false");
      m.op = Op::kExists;
      m.flag = arg.GetBool();
      if (!m.flag) absent_ok = true;
      return true;
    }
    if (op == "cidr") {
      if (!arg.IsString()) return fail("cidr: operand must be a string");
      auto c = parse_cidr(str(arg), why_);
      if (!c) return false;
      m.op = Op::kCidr;
      m.cidr = *c;
      return true;
    }
    if (op == "wildcard") {
      if (!arg.IsString()) return fail("wildcard: operand must be a string");
      auto g = parse_glob(str(arg), why_);
      if (!g) return false;
      m.op = Op::kWildcard;
      m.globs.push_back(std::move(*g));
      return true;
    }
    return fail("unknown operator " + std::string(op));
  }

  bool anything_but(const Value& arg, Matcher& m) {
    if (arg.IsString()) {
      m.op = Op::kButStrings;
      m.texts.emplace_back(str(arg));
      return true;
    }
    if (arg.IsNumber()) {
      m.op = Op::kButNumbers;
      m.numbers.push_back(arg.GetDouble());
      return true;
    }
    if (arg.IsArray()) {
      if (arg.Empty()) return fail("anything-but: empty list");
      const bool strings = arg[0].IsString();
      m.op = strings ? Op::kButStrings : Op::kButNumbers;
      for (const auto& e : arg.GetArray()) {
        if (strings && e.IsString()) {
          m.texts.emplace_back(str(e));
        } else if (!strings && e.IsNumber()) {
          m.numbers.push_back(e.GetDouble());
        } else {
          return fail("anything-but: a list must hold only strings or only numbers");
        }
      }
      return true;
    }
    if (!arg.IsObject()) return fail("anything-but: operand must be a string, a number, a list or an object");
    const auto inner = members_last_wins(arg);
    if (inner.size() != 1) return fail("anything-but: the object must have exactly one key");
    const std::string_view op = str(inner[0]->name);
    const Value& v = inner[0]->value;
    std::vector<std::string_view> values;
    if (v.IsString()) {
      values.push_back(str(v));
    } else if (v.IsArray() && !v.Empty()) {
      for (const auto& e : v.GetArray()) {
        if (!e.IsString()) return fail("anything-but: " + std::string(op) + " values must be strings");
        values.push_back(str(e));
      }
    } else {
      return fail("anything-but: " + std::string(op) + " operand must be a string or a list of strings");
    }
    if (op == "prefix" || op == "suffix") {
      m.op = op == "prefix" ? Op::kButPrefixes : Op::kButSuffixes;
      for (auto s : values) {
        if (s.empty()) return fail("anything-but: empty " + std::string(op));
        m.texts.emplace_back(s);
      }
      return true;
    }
    if (op == "equals-ignore-case") {
      m.op = Op::kButIgnoreCase;
      for (auto s : values) m.folded.emplace_back(s);
      return true;
    }
    if (op == "wildcard") {
      m.op = Op::kButWildcards;
      for (auto s : values) {
        auto g = parse_glob(s, why_);
        if (!g) return false;
        m.globs.push_back(std::move(*g));
      }
      return true;
    }
    return fail("anything-but: unsupported operator " + std::string(op));
  }

  bool numeric(const Value& arg, Matcher& m) {
    if (!arg.IsArray() || (arg.Size() != 2 && arg.Size() != 4)) return fail("numeric: malformed operand");
    m.op = Op::kNumeric;
    bool has_lower = false, has_upper = false;
    for (rapidjson::SizeType k = 0; k < arg.Size(); k += 2) {
      if (!arg[k].IsString() || !arg[k + 1].IsNumber()) return fail("numeric: expected operator then number");
      const std::string_view op = str(arg[k]);
      const double n = arg[k + 1].GetDouble();
      if (op == "=" && arg.Size() == 2) {
        m.lo = m.hi = n;
        m.lo_inclusive = m.hi_inclusive = true;
      } else if ((op == ">" || op == ">=") && k == 0) {
        m.lo = n;
        m.lo_inclusive = op == ">=";
        has_lower = true;
      } else if ((op == "<" || op == "<=") && !has_upper && (k == 0 || has_lower)) {
        m.hi = n;
        m.hi_inclusive = op == "<=";
        has_upper = true;
      } else {
        return fail("numeric: bad operator " + std::string(op));
      }
    }
    if (has_lower && has_upper && !(m.lo < m.hi)) return fail("numeric: the lower bound must be below the upper");
    return true;
  }

  std::string& why_;
};

// ---- compiling patterns -----------------------------------------------------------------------

// One field of one alternative: the path and the value list that must accept a leaf there.
struct FieldSpec {
  std::vector<std::string> path;
  const Value* list;
};
using Alternative = std::vector<FieldSpec>;

void append_split(std::vector<std::string>& path, std::string_view key) {
  for (;;) {
    const auto dot = key.find('.');
    path.emplace_back(key.substr(0, dot));
    if (dot == std::string_view::npos) return;
    key.remove_prefix(dot + 1);
  }
}

// Expands the object into its $or-free alternatives, checking its shape on the way.
bool expand(const Value& obj, const std::vector<std::string>& prefix, std::vector<Alternative>& out,
            std::string& why) {
  if (!obj.IsObject()) {
    why = "not an object";
    return false;
  }
  const auto members = members_last_wins(obj);
  if (members.empty()) {
    why = "empty object";
    return false;
  }
  std::vector<Alternative> result(1);
  auto cross = [&](const std::vector<Alternative>& with) {
    std::vector<Alternative> next;
    for (const auto& a : result) {
      for (const auto& b : with) {
        if (next.size() >= kMaxAlternatives) {
          why = "more than 1000 $or combinations";
          return false;
        }
        Alternative c = a;
        c.insert(c.end(), b.begin(), b.end());
        next.push_back(std::move(c));
      }
    }
    result = std::move(next);
    return true;
  };
  for (const Value::Member* member : members) {
    const std::string_view key = str(member->name);
    const Value& v = member->value;
    if (key == "$or") {
      if (!v.IsArray() || v.Size() < 2) {
        why = "$or must be a list of at least two objects";
        return false;
      }
      std::vector<Alternative> branches;
      for (const auto& b : v.GetArray()) {
        if (!b.IsObject()) {
          why = "$or must be a list of objects";
          return false;
        }
        if (!expand(b, prefix, branches, why)) return false;
        if (branches.size() > kMaxAlternatives) {
          why = "more than 1000 $or combinations";
          return false;
        }
      }
      if (!cross(branches)) return false;
      continue;
    }
    std::vector<std::string> path = prefix;
    append_split(path, key);
    if (v.IsObject()) {
      std::vector<Alternative> sub;
      if (!expand(v, path, sub, why) || !cross(sub)) return false;
    } else if (v.IsArray()) {
      for (auto& a : result) a.push_back(FieldSpec{path, &v});
    } else {
      why = "the value of " + std::string(key) + " is not an array or an object";
      return false;
    }
  }
  out.insert(out.end(), std::make_move_iterator(result.begin()), std::make_move_iterator(result.end()));
  return true;
}

}  // namespace

// ---- the program ------------------------------------------------------------------------------

// The alternatives of every filter merged into one path trie, so one walk over the event finds
// the leaves of every field. A Requirement is one field of one alternative: a leaf at its path
// accepted by one of its matchers, or (absent_ok, from exists: false) no leaf there that could
// sit beside the leaves picked for the fields before it (see consistent_pick()).
struct EventFilter::Program {
  struct Edge {
    std::string segment;
    std::uint32_t node;
  };
  struct Node {
    std::vector<Edge> children;
    std::vector<std::uint32_t> requirements;
    // The first bytes of the children's segments: most event keys name no pattern field and
    // are turned away on their first byte.
    std::array<std::uint64_t, 4> first_bytes{};

    bool may_have(unsigned char c) const { return (first_bytes[c >> 6] >> (c & 63)) & 1; }
  };
  struct Requirement {
    std::vector<Matcher> matchers;
    bool absent_ok = false;
    // The dotted path. event-ruler walks a pattern's fields in this order and judges
    // exists: false against the array elements the fields before it were matched in; an
    // alternative lists its requirements sorted by it.
    std::string key;
  };

  std::vector<Node> nodes{Node{}};  // nodes[0]: the event's root object
  std::vector<Requirement> requirements;
  std::vector<std::vector<std::uint32_t>> alternatives;  // requirement indices; any one suffices

  std::uint32_t child(std::uint32_t node, std::string_view segment) const {
    for (const Edge& e : nodes[node].children)
      if (equal(e.segment, segment)) return e.node;
    return kNone;
  }
  std::uint32_t add_child(std::uint32_t node, const std::string& segment) {
    if (std::uint32_t c = child(node, segment); c != kNone) return c;
    nodes.push_back(Node{});
    const auto c = static_cast<std::uint32_t>(nodes.size() - 1);
    nodes[node].children.push_back(Edge{segment, c});
    if (!segment.empty()) {
      const auto b = static_cast<unsigned char>(segment[0]);
      nodes[node].first_bytes[b >> 6] |= std::uint64_t{1} << (b & 63);
    }
    return c;
  }

  static constexpr std::uint32_t kNone = UINT32_MAX;
};

namespace {

using Program = EventFilter::Program;

// Which element of which array a leaf came from.
struct Coord {
  const Value* array;
  rapidjson::SizeType index;
};

// A leaf accepted for a requirement, found inside arrays: its coordinates are
// Scratch::coords[first, first + count).
struct Candidate {
  std::uint32_t requirement;
  std::uint32_t first;
  std::uint32_t count;
};

struct RequirementState {
  bool has_leaf = false;  // some leaf exists at the path
  bool free = false;      // a leaf outside any array was accepted: no same-element constraint
  bool overflow = false;  // more than kMaxCandidates accepted leaves inside arrays
  std::uint32_t candidates = 0;
  // For exists: false, every leaf at the path, accepted or not: one outside any array means the
  // field is never absent; those inside arrays are Scratch::present.
  bool unarrayed_leaf = false;
  bool present_overflow = false;
  std::uint32_t present = 0;
};

// An array or object being walked: the next element or member to visit.
struct Frame {
  const Value* value;
  std::uint32_t node;
  rapidjson::SizeType next;
  bool is_array;
};

// Per-thread working memory of matches(): cleared, never freed, so a warmed-up thread matches
// without allocating.
struct Scratch {
  std::vector<Frame> frames;
  std::vector<RequirementState> state;
  std::vector<Coord> stack;
  std::vector<Coord> coords;
  std::vector<Candidate> candidates;
  std::vector<Candidate> present;  // leaves inside arrays at the paths of exists: false fields
  std::vector<std::uint32_t> pending;
  std::vector<std::uint8_t> may_be_absent;  // per pending requirement
  std::vector<std::uint32_t> order;  // candidate indices grouped by pending requirement
  std::vector<std::uint32_t> begin;  // per pending requirement: its range in order
  std::vector<std::uint32_t> pos;     // per pending requirement: the next option to try
  std::vector<std::uint32_t> picked;  // per pending requirement: a candidate, or kAbsent
};

constexpr std::uint32_t kAbsent = UINT32_MAX;  // picked: the field's absence (exists: false)
constexpr std::uint32_t kNoCoords = UINT32_MAX;

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

class Walker {
 public:
  Walker(const Program& p, Scratch& s) : p_(p), s_(s) {}

  // Depth-first over the event with an explicit stack of open arrays and objects: events may
  // nest as deep as their producer likes, the thread's stack stays flat.
  void walk(std::uint32_t root, const Value& event) {
    s_.frames.clear();
    visit(root, event, false);
    while (!s_.frames.empty()) {
      Frame& f = s_.frames.back();
      const Value& container = *f.value;
      const std::uint32_t node = f.node;
      if (f.is_array) {
        if (f.next == container.Size()) {
          s_.frames.pop_back();
          s_.stack.pop_back();
          continue;
        }
        s_.stack.back().index = f.next;
        visit(node, container[f.next++], true);  // may grow frames: f is not used after this
      } else {
        if (f.next == container.MemberCount()) {
          s_.frames.pop_back();
          continue;
        }
        const auto& member = container.MemberBegin()[f.next++];
        const std::uint32_t n = descend(node, str(member.name));
        if (n != Program::kNone) visit(n, member.value, false);
      }
    }
  }

 private:
  void visit(std::uint32_t node, const Value& v, bool in_array) {
    if (v.IsArray()) {
      s_.stack.push_back(Coord{&v, 0});
      s_.frames.push_back(Frame{&v, node, 0, true});
    } else if (v.IsObject()) {
      if (!p_.nodes[node].children.empty()) s_.frames.push_back(Frame{&v, node, 0, false});
    } else {
      // event-ruler ties a value to an array element only when the element is an object or an
      // array: a scalar element carries the elements of the arrays around its array, not its own
      // index, so {"a": [{"b": 1}, "x"]} matches {"a": ["x"], "a.b": [1]}.
      leaf(node, v, s_.stack.size() - (in_array ? 1 : 0));
    }
  }

  // An event key may itself hold dots: "a.b" reaches the same node as {"a": {"b": ...}}.
  std::uint32_t descend(std::uint32_t node, std::string_view key) const {
    // A key's first segment starts with its first byte, unless the segment is empty (".x").
    if (!key.empty() && key[0] != '.' && !p_.nodes[node].may_have(static_cast<unsigned char>(key[0])))
      return Program::kNone;
    // Segments never hold a dot, so a key equal to a segment needs no search for one.
    if (const std::uint32_t whole = p_.child(node, key); whole != Program::kNone) return whole;
    for (;;) {
      const auto dot = key.find('.');
      if (dot == std::string_view::npos) return p_.child(node, key);
      node = p_.child(node, key.substr(0, dot));
      if (node == Program::kNone) return node;
      key.remove_prefix(dot + 1);
    }
  }

  // The leaf's coordinates: the first `depth` entries of the open-array stack, copied once.
  std::uint32_t coords_of(std::size_t depth, std::uint32_t& first) {
    if (first == kNoCoords) {
      first = static_cast<std::uint32_t>(s_.coords.size());
      s_.coords.insert(s_.coords.end(), s_.stack.begin(), s_.stack.begin() + static_cast<std::ptrdiff_t>(depth));
    }
    return first;
  }

  void leaf(std::uint32_t node, const Value& value, std::size_t depth) {
    const auto& reqs = p_.nodes[node].requirements;
    if (reqs.empty()) return;
    const Leaf v(value);
    const auto count = static_cast<std::uint32_t>(depth);
    std::uint32_t first = kNoCoords;
    for (std::uint32_t r : reqs) {
      RequirementState& st = s_.state[r];
      st.has_leaf = true;
      if (st.free) continue;
      if (p_.requirements[r].absent_ok) {
        if (depth == 0) {
          st.unarrayed_leaf = true;
        } else if (st.present == kMaxCandidates) {
          st.present_overflow = true;
        } else {
          ++st.present;
          s_.present.push_back(Candidate{r, coords_of(depth, first), count});
        }
      }
      bool accepted = false;
      for (const Matcher& m : p_.requirements[r].matchers) {
        if (accepts(m, v)) {
          accepted = true;
          break;
        }
      }
      if (!accepted) continue;
      if (depth == 0) {
        st.free = true;
        continue;
      }
      if (st.candidates == kMaxCandidates) {
        st.overflow = true;
        continue;
      }
      ++st.candidates;
      s_.candidates.push_back(Candidate{r, coords_of(depth, first), count});
    }
  }

  const Program& p_;
  Scratch& s_;
};

// Two leaves can be picked together unless they sit in different elements of one array.
bool compatible(const Scratch& s, const Candidate& a, const Candidate& b) {
  for (std::uint32_t i = a.first; i < a.first + a.count; ++i)
    for (std::uint32_t j = b.first; j < b.first + b.count; ++j)
      if (s.coords[i].array == s.coords[j].array && s.coords[i].index != s.coords[j].index) return false;
  return true;
}

// Whether exists: false holds for the pending requirement at level k: no leaf at its path could
// sit beside the leaves picked for the fields before it (event-ruler's ACFinder asks whether
// the key occurs in an element consistent with the match so far). With nothing picked yet, any
// leaf is a consistent one.
bool absent_at(const Scratch& s, std::size_t k) {
  for (const Candidate& leaf : s.present) {
    if (leaf.requirement != s.pending[k]) continue;
    bool beside = true;
    for (std::size_t j = 0; j < k && beside; ++j)
      if (s.picked[j] != kAbsent) beside = compatible(s, s.candidates[s.picked[j]], leaf);
    if (beside) return false;
  }
  return true;
}

// Picks, for each pending requirement in key order, one accepted leaf or (exists: false) its
// absence, all picked leaves pairwise compatible (filtering.md §3.2: fields reached through one
// array must be satisfied by the same element). Depth-first with a budget; past the budget the
// record counts as a match, so a pathological event is delivered rather than deleted.
bool consistent_pick(Scratch& s) {
  const std::size_t n = s.pending.size();
  s.begin.assign(n + 1, 0);
  s.order.clear();
  for (std::size_t k = 0; k < n; ++k) {
    s.begin[k] = static_cast<std::uint32_t>(s.order.size());
    for (std::uint32_t c = 0; c < s.candidates.size(); ++c)
      if (s.candidates[c].requirement == s.pending[k]) s.order.push_back(c);
  }
  s.begin[n] = static_cast<std::uint32_t>(s.order.size());
  s.pos.assign(n, 0);
  s.picked.assign(n, kAbsent);
  std::size_t budget = kSearchBudget;
  std::size_t k = 0;
  s.pos[0] = s.begin[0];
  while (true) {
    if (budget-- == 0) return true;
    bool placed = false;
    // Options of level k: its candidates, then (pos == begin[k + 1]) its absence.
    while (!placed && s.pos[k] <= s.begin[k + 1]) {
      const std::uint32_t option = s.pos[k]++;
      if (option == s.begin[k + 1]) {
        if (s.may_be_absent[k] && absent_at(s, k)) {
          s.picked[k] = kAbsent;
          placed = true;
        }
        continue;
      }
      const std::uint32_t c = s.order[option];
      bool ok = true;
      for (std::size_t j = 0; j < k && ok; ++j)
        if (s.picked[j] != kAbsent) ok = compatible(s, s.candidates[s.picked[j]], s.candidates[c]);
      if (ok) {
        s.picked[k] = c;
        placed = true;
      }
    }
    if (placed) {
      if (++k == n) return true;
      s.pos[k] = s.begin[k];
    } else {
      if (k == 0) return false;
      --k;
    }
  }
}

bool alternative_holds(const Program& p, const std::vector<std::uint32_t>& alt, Scratch& s) {
  s.pending.clear();
  s.may_be_absent.clear();
  bool absence_to_judge = false;
  for (std::uint32_t r : alt) {  // in key order
    const RequirementState& st = s.state[r];
    if (st.free) continue;
    const bool absent_ok = p.requirements[r].absent_ok;
    if (!st.has_leaf && absent_ok) continue;
    // Leaves only inside arrays: absent where they sit in other elements than the fields before.
    const bool may_be_absent = absent_ok && !st.unarrayed_leaf;
    if (st.candidates == 0 && !may_be_absent) return false;
    absence_to_judge = absence_to_judge || may_be_absent;
    s.pending.push_back(r);
    s.may_be_absent.push_back(may_be_absent ? 1 : 0);
  }
  if ((s.pending.size() <= 1 && !absence_to_judge) || consistent_pick(s)) return true;
  // A field with more leaves inside arrays than were kept might have paired (or, for
  // exists: false, failed to pair) with the ones dropped: count it as a match (deliver rather
  // than delete), as for the search budget.
  return std::any_of(s.pending.begin(), s.pending.end(),
                     [&](std::uint32_t r) { return s.state[r].overflow || s.state[r].present_overflow; });
}

std::string pattern_error(const std::string& pattern, Program& program) {
  if (pattern.empty()) return "empty pattern";
  if (code_points(pattern) > kMaxPatternChars) return "pattern longer than 4096 characters";
  rapidjson::Document d;
  if (!parse_json(d, pattern)) return "malformed JSON";
  if (!d.IsObject()) return "the pattern is not a JSON object";
  std::string why;
  std::vector<Alternative> alts;
  if (!expand(d, {}, alts, why)) return why;
  // The last alternative added per filter may exceed the cap through a nested $or.
  if (alts.size() > kMaxAlternatives) return "more than 1000 $or combinations";
  ListCompiler lists(why);
  for (const Alternative& alt : alts) {
    std::vector<std::uint32_t> reqs;
    for (const FieldSpec& f : alt) {
      Program::Requirement r;
      if (!lists.compile(*f.list, r.matchers, r.absent_ok)) return why;
      for (std::size_t i = 0; i < f.path.size(); ++i) r.key += (i == 0 ? "" : ".") + f.path[i];
      std::uint32_t node = 0;
      for (const auto& seg : f.path) node = program.add_child(node, seg);
      const auto index = static_cast<std::uint32_t>(program.requirements.size());
      program.requirements.push_back(std::move(r));
      program.nodes[node].requirements.push_back(index);
      reqs.push_back(index);
    }
    std::stable_sort(reqs.begin(), reqs.end(), [&](std::uint32_t a, std::uint32_t b) {
      return program.requirements[a].key < program.requirements[b].key;
    });
    program.alternatives.push_back(std::move(reqs));
  }
  return {};
}

}  // namespace

EventFilter::EventFilter() = default;
EventFilter::EventFilter(std::shared_ptr<const Program> program) : program_(std::move(program)) {}

Result<EventFilter> EventFilter::compile(const std::vector<std::string>& patterns) {
  if (patterns.empty()) return EventFilter();
  if (patterns.size() > kMaxFilters) {
    spdlog::debug("invalid FilterCriteria: {} filters, at most {} allowed", patterns.size(), kMaxFilters);
    return invalid_parameter(kInvalidFilterMessage);
  }
  auto program = std::make_shared<Program>();
  for (const auto& p : patterns) {
    if (std::string why = pattern_error(p, *program); !why.empty()) {
      spdlog::debug("invalid filter pattern ({}): {}", why, p);
      return invalid_parameter(kInvalidFilterMessage);
    }
  }
  return EventFilter(std::move(program));
}

std::string filter_pattern_error(const std::string& pattern) {
  Program scratch_program;
  return pattern_error(pattern, scratch_program);
}

bool EventFilter::empty() const { return !program_; }

bool EventFilter::matches(const Value& event) const {
  if (!program_) return true;
  const Program& p = *program_;
  Scratch& s = scratch();
  s.state.assign(p.requirements.size(), RequirementState{});
  s.stack.clear();
  s.coords.clear();
  s.candidates.clear();
  s.present.clear();
  Walker(p, s).walk(0, event);
  for (const auto& alt : p.alternatives)
    if (alternative_holds(p, alt, s)) return true;
  return false;
}

void set_payload_view(Value& view, std::string_view key, std::string_view payload,
                      rapidjson::Document::AllocatorType& alloc) {
  if (!valid_utf8(payload)) return;
  // An empty view may have no data at all, which RapidJSON's string constructors refuse.
  if (payload.data() == nullptr) payload = std::string_view("", 0);
  Value name(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc);
  rapidjson::Document parsed(&alloc);
  if (!parse_json(parsed, payload)) {
    view.AddMember(name, Value(payload.data(), static_cast<rapidjson::SizeType>(payload.size()), alloc), alloc);
  } else {
    view.AddMember(name, static_cast<Value&>(parsed).Move(), alloc);
  }
}

bool parse_for_filter(rapidjson::Document& doc, std::string_view json) { return parse_json(doc, json); }

}  // namespace esm::pollers
