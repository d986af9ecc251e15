#include <catch2/catch.hpp>

#include "core/mapping.h"

using namespace esm;

TEST_CASE("every source kind and state survives a round trip through its name") {
  for (auto k : {SourceKind::kSqs, SourceKind::kKinesis, SourceKind::kDynamoDb, SourceKind::kMsk,
                 SourceKind::kSelfManagedKafka, SourceKind::kMq, SourceKind::kDocumentDb})
    CHECK(source_kind_from_string(to_string(k)) == k);
  for (auto s : {MappingState::kCreating, MappingState::kEnabling, MappingState::kEnabled, MappingState::kDisabling,
                 MappingState::kDisabled, MappingState::kUpdating, MappingState::kDeleting})
    CHECK(mapping_state_from_string(to_string(s)) == s);
  CHECK_FALSE(source_kind_from_string("sns"));
  CHECK_FALSE(mapping_state_from_string("enabled"));
}

TEST_CASE("state names are the AWS spellings and only Enabled and Disabled are stable") {
  CHECK(to_string(MappingState::kCreating) == "Creating");
  CHECK(to_string(MappingState::kDeleting) == "Deleting");
  CHECK(is_stable(MappingState::kEnabled));
  CHECK(is_stable(MappingState::kDisabled));
  CHECK_FALSE(is_stable(MappingState::kUpdating));
  CHECK_FALSE(is_stable(MappingState::kCreating));
}

TEST_CASE("a mapping's ARN is built from its region, account and UUID") {
  Mapping m;
  m.region = "ap-south-1";
  m.account = "123456789012";
  m.uuid = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
  CHECK(mapping_arn_of(m) ==
        "arn:aws:lambda:ap-south-1:123456789012:event-source-mapping:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
}
