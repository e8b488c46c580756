#include "engine/schema.h"

#include <gtest/gtest.h>

#include "outpost/domain.pb.h"
#include "outpost/protocol.pb.h"

namespace outpost {
namespace {

TEST(Schema, DomainDerivesCollectionsFromOptions) {
  const Schema& schema = Schema::domain();
  EXPECT_EQ(schema.version(), 2u);
  for (const char* name : {"agent_state", "interaction", "voicemail", "draft", "note", "queue",
                           "favourite", "user_setting", "contact", "canned_response", "wrapup_code",
                           "aux_reason", "colleague", "org_setting"}) {
    EXPECT_NE(schema.find(name), nullptr) << name;
  }
  const Collection* contact = schema.find("contact");
  ASSERT_NE(contact, nullptr);
  EXPECT_EQ(contact->scope, SCOPE_ORG);
  EXPECT_EQ(contact->key_field->name(), "id");
  EXPECT_EQ(contact->priority, 2);
  std::vector<std::string> searchable;
  for (const Column* column : contact->searchable()) searchable.push_back(column->name);
  EXPECT_EQ(searchable,
            (std::vector<std::string>{"first_name", "last_name", "work_phone", "cell_phone",
                                      "home_phone", "work_email", "personal_email"}));
  const Collection* voicemail = schema.find("voicemail");
  EXPECT_EQ(voicemail->scope, SCOPE_USER);
  EXPECT_EQ(voicemail->merge, MERGE_MONOTONIC_FLAGS);
  EXPECT_EQ(voicemail->priority, 0);
  // Repeated and map fields live only in the blob.
  const Collection* interaction = schema.find("interaction");
  EXPECT_EQ(interaction->column("participant_data"), nullptr);
  EXPECT_NE(interaction->column("started_ms"), nullptr);
  EXPECT_EQ(schema.find(domain::Draft::descriptor())->name, "draft");
}

TEST(Schema, NewRecordIsAFreshMessageOfTheCollectionsType) {
  for (const auto& collection : Schema::domain().collections()) {
    ASSERT_NE(collection->prototype, nullptr) << collection->name;
    auto first = collection->new_record();
    auto second = collection->new_record();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->GetDescriptor(), collection->descriptor) << collection->name;
    EXPECT_NE(first.get(), second.get());
    EXPECT_NE(first.get(), collection->prototype);
    EXPECT_EQ(first->ByteSizeLong(), 0u) << collection->name;
  }
}

TEST(Schema, RequireNamesTheUnknownCollection) {
  auto missing = Schema::domain().require("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(Schema, RefusesAMessageWithoutCollectionOption) {
  auto schema = Schema::from_descriptors({protocol::Change::descriptor()}, 1);
  ASSERT_FALSE(schema.ok());
  EXPECT_EQ(schema.status().code(), ErrorCode::kInvalidArgument);
}

TEST(Schema, RefusesTheSameCollectionTwice) {
  auto schema =
      Schema::from_descriptors({domain::Contact::descriptor(), domain::Contact::descriptor()}, 1);
  ASSERT_FALSE(schema.ok());
  EXPECT_NE(schema.status().message().find("twice"), std::string::npos);
}

}  // namespace
}  // namespace outpost
