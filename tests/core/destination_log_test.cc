#include "core/destination_log.h"

#include <catch2/catch.hpp>

namespace esm {
namespace {

DestinationEntry entry(std::string arn, std::string body) {
  DestinationEntry e;
  e.arn = std::move(arn);
  e.body = std::move(body);
  return e;
}

TEST_CASE("the destination log lists one ARN's entries, or all of them, oldest first") {
  DestinationLog log;
  log.append(entry("arn:aws:sns:us-east-1:000000000000:t", "1"));
  log.append(entry("arn:aws:s3:::b", "2"));
  log.append(entry("arn:aws:sns:us-east-1:000000000000:t", "3"));
  auto sns = log.list("arn:aws:sns:us-east-1:000000000000:t");
  REQUIRE(sns.size() == 2);
  CHECK(sns[0].body == "1");
  CHECK(sns[1].body == "3");
  CHECK(sns[0].seq < sns[1].seq);
  auto all = log.list("");
  REQUIRE(all.size() == 3);
  CHECK(all[1].body == "2");
  CHECK(log.list("arn:aws:s3:::other").empty());
}

TEST_CASE("the destination log keeps the newest entries of an ARN past its bound") {
  DestinationLog log;
  for (std::size_t i = 0; i < DestinationLog::kMaxPerArn + 5; ++i) log.append(entry("arn:aws:s3:::b", std::to_string(i)));
  auto got = log.list("arn:aws:s3:::b");
  REQUIRE(got.size() == DestinationLog::kMaxPerArn);
  CHECK(got.front().body == "5");
}

}  // namespace
}  // namespace esm
