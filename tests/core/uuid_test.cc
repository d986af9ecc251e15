#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "core/uuid.h"

using namespace esm;

TEST_CASE("new UUIDs are lower-case version-4 UUIDs with the RFC 4122 variant") {
  for (int i = 0; i < 200; ++i) {
    const std::string u = new_uuid();
    INFO(u);
    REQUIRE(u.size() == 36);
    CHECK(looks_like_uuid(u));
    for (std::size_t j = 0; j < u.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        CHECK(u[j] == '-');
      } else {
        const char c = u[j];
        CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
      }
    }
    CHECK(u[14] == '4');
    CHECK(std::string("89ab").find(u[19]) != std::string::npos);
  }
}

TEST_CASE("new UUIDs do not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(new_uuid());
  CHECK(seen.size() == 1000);
}

TEST_CASE("looks_like_uuid accepts the 8-4-4-4-12 hex form in either case") {
  CHECK(looks_like_uuid("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"));
  CHECK(looks_like_uuid("6F1C2D3E-4B5A-4C6D-8E7F-9A0B1C2D3E4F"));
  CHECK(looks_like_uuid("00000000-0000-0000-0000-000000000000"));
}

TEST_CASE("looks_like_uuid refuses wrong lengths, misplaced dashes and non-hex digits") {
  CHECK_FALSE(looks_like_uuid(""));
  CHECK_FALSE(looks_like_uuid("not-a-uuid"));
  CHECK_FALSE(looks_like_uuid("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4"));
  CHECK_FALSE(looks_like_uuid("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f0"));
  CHECK_FALSE(looks_like_uuid("6f1c2d3e4-b5a-4c6d-8e7f-9a0b1c2d3e4f"));
  CHECK_FALSE(looks_like_uuid("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4g"));
  CHECK_FALSE(looks_like_uuid("6f1c2d3e-4b5a-4c6d-8e7f_9a0b1c2d3e4f"));
  CHECK_FALSE(looks_like_uuid("{f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4}"));
}
