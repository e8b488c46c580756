// A replica file written by an older schema is migrated additively when opened with a
// newer one; a file written by a newer schema is refused and left untouched.
#include <gtest/gtest.h>

#include "engine/replica.h"
#include "outpost_test/person_v1.pb.h"
#include "outpost_test/person_v2.pb.h"
#include "test_support.h"

namespace outpost {
namespace {

Schema schema_v1() {
  return std::move(Schema::from_file(outpost_test::v1::Person::descriptor()->file())).value();
}
Schema schema_v2() {
  return std::move(Schema::from_file(outpost_test::v2::Person::descriptor()->file())).value();
}

template <typename PutPerson>
MutatorRegistry person_mutators() {
  MutatorRegistry registry;
  Status added = registry.add<PutPerson>(
      "put_person",
      [](MutationContext& ctx, const PutPerson& args) { return ctx.put(args.person()); });
  EXPECT_TRUE(added.ok());
  return registry;
}

TEST(ReplicaMigration, AddedFieldsMigrateWithoutLosingRows) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  {
    Schema v1 = schema_v1();
    MutatorRegistry mutators = person_mutators<outpost_test::v1::PutPerson>();
    auto replica = Replica::open(path, v1, &mutators, {.client_id = "device-1"});
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    for (int i = 0; i < 20; ++i) {
      outpost_test::v1::PutPerson args;
      args.mutable_person()->set_id("p" + std::to_string(i));
      args.mutable_person()->set_name("Person " + std::to_string(i));
      ASSERT_TRUE((*replica)->mutate("put_person", args, i).ok());
    }
  }
  Schema v2 = schema_v2();
  MutatorRegistry mutators = person_mutators<outpost_test::v2::PutPerson>();
  auto replica = Replica::open(path, v2, &mutators);
  ASSERT_TRUE(replica.ok()) << replica.status().to_string();
  EXPECT_EQ((*replica)->count("person").value(), 20u);
  EXPECT_EQ((*replica)->pending()->size(), 20u);  // the outbox survives the migration
  auto old_row = (*replica)->get<outpost_test::v2::Person>("p3");
  ASSERT_TRUE(old_row.ok() && old_row->has_value());
  EXPECT_EQ((*old_row)->name(), "Person 3");
  EXPECT_EQ((*old_row)->age(), 0);
  // The new columns exist (with the proto default), are indexed and searchable.
  auto ages = (*replica)->sql("SELECT count(*) FROM c_person WHERE age = 0");
  ASSERT_TRUE(ages.ok()) << ages.status().to_string();
  EXPECT_EQ(std::get<int64_t>(ages->rows[0][0]), 20);
  auto index = (*replica)->sql("SELECT name FROM sqlite_master WHERE name = 'i_person_age'");
  EXPECT_EQ(index->rows.size(), 1u);
  outpost_test::v2::PutPerson args;
  args.mutable_person()->set_id("p3");
  args.mutable_person()->set_name("Person 3");
  args.mutable_person()->set_email("three@example.org");
  args.mutable_person()->set_age(33);
  ASSERT_TRUE((*replica)->mutate("put_person", args, 100).ok());
  auto found = (*replica)->search("person", "example.org");
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 1u);
  // Old searchable fields are still indexed after the FTS table was rebuilt.
  EXPECT_EQ((*replica)->search("person", "Person 1")->size(), 11u);  // 1, 10..19
  EXPECT_TRUE((*replica)->check_integrity().ok());
}

TEST(ReplicaMigration, AFileFromANewerSchemaIsRefusedAndUntouched) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  {
    Schema v2 = schema_v2();
    auto replica = Replica::open(path, v2, nullptr, {.client_id = "device-1"});
    ASSERT_TRUE(replica.ok());
  }
  std::string before = testing::read_file(path);
  std::string wal_before = testing::read_file(path + "-wal");
  Schema v1 = schema_v1();
  auto refused = Replica::open(path, v1, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kSchemaTooNew);
  EXPECT_NE(refused.status().message().find("schema version 2"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(testing::read_file(path), before);
  EXPECT_EQ(testing::read_file(path + "-wal"), wal_before);
}

}  // namespace
}  // namespace outpost
