#include "engine/replica.h"

#include <random>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "engine/domain_mutators.h"
#include "engine/replica_views.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "test_support.h"

namespace outpost {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::TempDir;
namespace d = outpost::domain;
namespace m = outpost::mutations;

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    replica_.reset();
    ReplicaOptions options;
    options.tenant = "acme";
    options.user = "agent1";
    options.client_id = "device-1";
    auto opened =
        Replica::open(dir_.file("device.db"), Schema::domain(), &domain_mutators(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    replica_ = std::move(opened).value();
  }

  // Applies a pull response with the given changes for the user scope (and nothing new in
  // the org scope: a response names every scope the device follows).
  ApplyReport pull(std::vector<protocol::Change> changes, uint64_t cursor,
                   uint64_t last_mutation_id = 0, bool has_more = false) {
    protocol::PullResponse response;
    auto* scope = response.add_scopes();
    scope->set_scope("user/acme/agent1");
    for (auto& change : changes) *scope->add_changes() = change;
    scope->set_cursor(cursor);
    scope->set_has_more(has_more);
    response.add_scopes()->set_scope("org/acme");
    response.set_last_mutation_id(last_mutation_id);
    auto report = replica_->apply(response);
    EXPECT_TRUE(report.ok()) << report.status().to_string();
    return report.ok() ? report.value() : ApplyReport();
  }

  d::Voicemail voicemail(const std::string& id, bool read) {
    d::Voicemail v;
    v.set_id(id);
    v.set_caller_name("Caller " + id);
    v.set_received_ms(1000);
    v.set_read(read);
    return v;
  }

  TempDir dir_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaTest, EveryCollectionRoundTripsThroughApplyAndGet) {
  std::vector<protocol::Change> changes;
  std::map<std::string, std::unique_ptr<google::protobuf::Message>> written;
  uint64_t version = 1;
  for (const auto& collection : Schema::domain().collections()) {
    auto record = collection->new_record();
    testing::fill_fields(*record, static_cast<int>(version));
    std::string key = collection->key_of(*record);
    changes.push_back(testing::put_change(collection->name, key, *record, version++));
    written[collection->name] = std::move(record);
  }
  pull(changes, version);
  reopen();  // and it is durable
  for (const auto& [name, record] : written) {
    auto got = replica_->get(name, Schema::domain().find(name)->key_of(*record));
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_NE(got.value(), nullptr) << name;
    EXPECT_TRUE(MessageDifferencer::Equals(*got.value(), *record)) << name;
  }
  // Typed columns hold the scalar fields, for plain SQL.
  auto rows = replica_->sql("SELECT caller_name, read FROM c_voicemail");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(std::get<std::string>(rows->rows[0][0]),
            static_cast<const d::Voicemail&>(*written["voicemail"]).caller_name());
  EXPECT_EQ(std::get<int64_t>(rows->rows[0][1]), 1);
}

// Decision 060: a flat record's columns are read straight from its bytes, anything else
// (a record with nested or repeated fields, a body with a field of a newer schema) through
// protobuf. Either way each typed column holds its field and `_body` the bytes as sent.
TEST_F(ReplicaTest, TypedColumnsHoldTheFieldsWhicheverPathReadTheBody) {
  uint64_t version = 1;
  for (const auto& collection : Schema::domain().collections()) {
    auto record = collection->new_record();
    testing::fill_fields(*record, 7);
    const std::string key = collection->key_of(*record);
    const std::string canonical = record->SerializeAsString();
    // Field 1000, a varint: unknown to this schema, kept in the body.
    const std::string newer = canonical + std::string("\xc0\x3e\x2a", 3);
    for (const std::string& body : {canonical, newer}) {
      protocol::Change change = testing::put_change(collection->name, key, *record, version);
      change.set_body(body);
      pull({change}, version++);
      auto rows = replica_->sql("SELECT * FROM c_" + collection->name);
      ASSERT_TRUE(rows.ok()) << rows.status().to_string();
      ASSERT_EQ(rows->rows.size(), 1u) << collection->name;
      const auto& row = rows->rows[0];
      const auto* reflection = record->GetReflection();
      for (size_t i = 0; i < collection->columns.size(); ++i) {
        const auto* field = collection->columns[i].field;
        const std::string where = collection->name + "." + field->name();
        ASSERT_LT(i, row.size());
        switch (collection->columns[i].type) {
          case ColumnType::kInteger: {
            int64_t want = 0;
            switch (field->cpp_type()) {
              case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
                want = reflection->GetInt32(*record, field);
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
                want = reflection->GetInt64(*record, field);
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
                want = reflection->GetUInt32(*record, field);
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
                want = static_cast<int64_t>(reflection->GetUInt64(*record, field));
                break;
              case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
                want = reflection->GetBool(*record, field) ? 1 : 0;
                break;
              default:
                want = reflection->GetEnumValue(*record, field);
            }
            EXPECT_EQ(std::get<int64_t>(row[i]), want) << where;
            break;
          }
          case ColumnType::kReal:
            EXPECT_EQ(std::get<double>(row[i]),
                      field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_FLOAT
                          ? static_cast<double>(reflection->GetFloat(*record, field))
                          : reflection->GetDouble(*record, field))
                << where;
            break;
          default:
            EXPECT_EQ(std::get<std::string>(row[i]), reflection->GetString(*record, field))
                << where;
        }
      }
      EXPECT_EQ(std::get<std::string>(row[row.size() - 1]), body) << collection->name;
    }
  }
}

TEST_F(ReplicaTest, MutateChangesTheTableAndTheOutboxTogether) {
  pull({testing::put_change("voicemail", "vm1", voicemail("vm1", false), 5)}, 5);
  m::MarkVoicemailRead args;
  args.set_id("vm1");
  auto id = replica_->mutate("mark_voicemail_read", args, 2000);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(id.value(), 1u);
  auto got = replica_->get<d::Voicemail>("vm1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE((*got)->read());
  auto pending = replica_->pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].name, "mark_voicemail_read");
  EXPECT_EQ((*pending)[0].created_ms, 2000);
  m::MarkVoicemailRead parsed;
  ASSERT_TRUE(parsed.ParseFromString((*pending)[0].args));
  EXPECT_EQ(parsed.id(), "vm1");
}

TEST_F(ReplicaTest, AFailingMutatorChangesNothing) {
  m::WrapUp args;
  args.add_interaction_ids("missing");
  args.set_skip(true);
  auto id = replica_->mutate("wrap_up", args, 1);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), ErrorCode::kRejected);
  EXPECT_TRUE(replica_->pending()->empty());
  // Ids are never reused, but nothing was committed for the failed one.
  m::SetUserSetting setting;
  setting.set_name("theme");
  setting.set_value("dark");
  ASSERT_TRUE(replica_->mutate("set_user_setting", setting, 2).ok());
  EXPECT_EQ(replica_->pending()->size(), 1u);
}

TEST_F(ReplicaTest, ServerChangesAreAppliedOnlyWhenNewer) {
  auto first = pull({testing::put_change("voicemail", "vm1", voicemail("vm1", true), 7)}, 7);
  EXPECT_EQ(first.changes_applied, 1u);
  // A replayed older version is skipped, a delete older than the row is skipped.
  auto stale = pull({testing::put_change("voicemail", "vm1", voicemail("vm1", false), 6),
                     testing::delete_change("voicemail", "vm1", 5)},
                    7);
  EXPECT_EQ(stale.changes_applied, 0u);
  EXPECT_EQ(stale.changes_skipped, 2u);
  EXPECT_TRUE((*replica_->get<d::Voicemail>("vm1"))->read());
  auto removed = pull({testing::delete_change("voicemail", "vm1", 9)}, 9);
  EXPECT_EQ(removed.changes_applied, 1u);
  EXPECT_FALSE(replica_->get<d::Voicemail>("vm1")->has_value());
  auto cursors = replica_->cursors();
  ASSERT_TRUE(cursors.ok());
  ASSERT_EQ(cursors->size(), 2u);
  for (const ScopeCursor& cursor : *cursors) {
    EXPECT_EQ(cursor.seq, cursor.scope == "user/acme/agent1" ? 9u : 0u) << cursor.scope;
  }
}

TEST_F(ReplicaTest, PendingMutationsAreRebasedOnNewServerState) {
  d::Queue queue;
  queue.set_id("q1");
  queue.set_name("Support");
  queue.set_joined(false);
  queue.set_member_count(3);
  pull({testing::put_change("queue", "q1", queue, 1)}, 1);

  m::SetQueueJoined join;
  join.set_queue_id("q1");
  join.set_joined(true);
  ASSERT_TRUE(replica_->mutate("set_queue_joined", join, 10).ok());

  // The server renames the queue before it saw the join: the UI shows both.
  queue.set_name("Support EMEA");
  queue.set_member_count(4);
  auto report = pull({testing::put_change("queue", "q1", queue, 2)}, 2);
  EXPECT_EQ(report.mutations_replayed, 1u);
  auto shown = replica_->get<d::Queue>("q1");
  EXPECT_EQ((*shown)->name(), "Support EMEA");
  EXPECT_TRUE((*shown)->joined());

  // The server applies the join (version 3) and confirms mutation 1.
  queue.set_joined(true);
  auto confirmed = pull({testing::put_change("queue", "q1", queue, 3)}, 3, 1);
  EXPECT_EQ(confirmed.mutations_confirmed, 1u);
  EXPECT_TRUE(replica_->pending()->empty());
  EXPECT_TRUE((*replica_->get<d::Queue>("q1"))->joined());
  auto shadow = replica_->sql("SELECT count(*) FROM _shadow");
  EXPECT_EQ(std::get<int64_t>(shadow->rows[0][0]), 0);
}

TEST_F(ReplicaTest, ConfirmationWaitsForACompleteResponse) {
  m::SetUserSetting setting;
  setting.set_name("theme");
  setting.set_value("dark");
  ASSERT_TRUE(replica_->mutate("set_user_setting", setting, 1).ok());
  auto partial = pull({}, 10, /*last_mutation_id=*/1, /*has_more=*/true);
  EXPECT_EQ(partial.mutations_confirmed, 0u);
  EXPECT_EQ(replica_->pending()->size(), 1u);
  auto complete = pull({}, 11, 1, false);
  EXPECT_EQ(complete.mutations_confirmed, 1u);
}

TEST_F(ReplicaTest, ARejectedMutationIsRolledBackAndKeptWithItsReason) {
  pull({testing::put_change("voicemail", "vm1", voicemail("vm1", false), 1)}, 1);
  m::DeleteVoicemail del;
  del.set_id("vm1");
  ASSERT_TRUE(replica_->mutate("delete_voicemail", del, 5).ok());
  EXPECT_FALSE(replica_->get<d::Voicemail>("vm1")->has_value());

  protocol::PushResponse push;
  auto* result = push.add_results();
  result->set_id(1);
  result->set_outcome(protocol::MutationResult::REJECTED);
  result->set_code("rejected");
  result->set_reason("voicemail is on legal hold");
  auto report = replica_->apply_push_results(push);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->mutations_rejected.size(), 1u);
  EXPECT_TRUE(replica_->get<d::Voicemail>("vm1")->has_value());  // rolled back
  EXPECT_TRUE(replica_->pending()->empty());
  auto rejected = replica_->rejected();
  ASSERT_EQ(rejected->size(), 1u);
  EXPECT_EQ((*rejected)[0].reason, "voicemail is on legal hold");
  EXPECT_EQ((*rejected)[0].name, "delete_voicemail");
  EXPECT_TRUE(replica_->discard_rejected(1).ok());
  EXPECT_TRUE(replica_->rejected()->empty());
  EXPECT_EQ(replica_->discard_rejected(1).code(), ErrorCode::kNotFound);
}

TEST_F(ReplicaTest, QueryByIndexOrderedAndLimited) {
  std::vector<protocol::Change> changes;
  for (int i = 0; i < 50; ++i) {
    d::Interaction interaction;
    interaction.set_id("i" + std::to_string(i));
    interaction.set_day(i < 30 ? "2026-11-24" : "2026-11-23");
    interaction.set_started_ms(1000 + i);
    changes.push_back(testing::put_change("interaction", interaction.id(), interaction, i + 1));
  }
  pull(changes, 50);
  Query query;
  query.collection = "interaction";
  query.where.push_back({"day", Condition::Op::kEq, std::string("2026-11-24")});
  query.order_by = "started_ms";
  query.descending = true;
  query.limit = 10;
  auto rows = replica_->query(query);
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 10u);
  EXPECT_EQ(static_cast<const d::Interaction&>(*(*rows)[0]).id(), "i29");
  EXPECT_EQ(static_cast<const d::Interaction&>(*(*rows)[9]).id(), "i20");
  query.where[0].column = "no_such_column";
  EXPECT_EQ(replica_->query(query).status().code(), ErrorCode::kInvalidArgument);
}

// Decision 058: an upsert sets only the indexed columns the record changes (SQLite would
// rewrite an index entry for every column it sets, even to the same value). Every column
// must still follow every write: each index answers with the new values, never the old,
// a write that is not newer changes nothing, and the indexes match the table.
TEST_F(ReplicaTest, IndexedColumnsFollowEveryUpdateWhetherTheyChangeOrNot) {
  auto interaction = [](int i, const std::string& day, int64_t started, d::InteractionState state,
                        const std::string& peer) {
    d::Interaction record;
    record.set_id("i" + std::to_string(i));
    record.set_day(day);
    record.set_started_ms(started);
    record.set_state(state);
    record.set_peer_name(peer);
    return record;
  };
  const auto connected = d::INTERACTION_CONNECTED;
  const auto ended = d::INTERACTION_DISCONNECTED;
  std::vector<protocol::Change> first;
  for (int i = 0; i < 4; ++i) {
    auto record = interaction(i, "2026-11-23", 1000 + i, connected, "before");
    first.push_back(testing::put_change("interaction", record.id(), record, 1));
  }
  pull(first, 1);
  // Probing again for changed indexed columns (a run of new rows stops it for a while).
  reopen();
  std::vector<protocol::Change> second = {
      // nothing indexed changes
      testing::put_change("interaction", "i0",
                          interaction(0, "2026-11-23", 1000, connected, "after"), 2),
      // one indexed column of the compound index
      testing::put_change("interaction", "i1",
                          interaction(1, "2026-11-24", 1001, connected, "after"), 2),
      // two others
      testing::put_change("interaction", "i2", interaction(2, "2026-11-23", 5002, ended, "after"),
                          2),
      // all of them, and back to a value another row holds
      testing::put_change("interaction", "i3", interaction(3, "2026-11-24", 1000, ended, "after"),
                          2),
  };
  pull(second, 2);
  // Not newer: nothing moves, in the table or an index.
  pull({testing::put_change("interaction", "i0", interaction(0, "2026-11-30", 9, ended, "stale"),
                            2)},
       3);
  auto ids = [&](const std::string& where) {
    auto rows = replica_->sql("SELECT group_concat(id) FROM (SELECT id FROM c_interaction " +
                              where + " ORDER BY id)");
    EXPECT_TRUE(rows.ok()) << rows.status().to_string();
    if (!rows.ok() || std::holds_alternative<std::monostate>(rows->rows[0][0]))
      return std::string();
    return std::get<std::string>(rows->rows[0][0]);
  };
  EXPECT_EQ(ids("INDEXED BY i_interaction_day WHERE day = '2026-11-23'"), "i0,i2");
  EXPECT_EQ(ids("INDEXED BY i_interaction_day WHERE day = '2026-11-24'"), "i1,i3");
  EXPECT_EQ(ids("INDEXED BY i_interaction_day WHERE day = '2026-11-30'"), "");
  EXPECT_EQ(ids("INDEXED BY i_interaction_started_ms WHERE started_ms = 1000"), "i0,i3");
  EXPECT_EQ(ids("INDEXED BY i_interaction_started_ms WHERE started_ms = 5002"), "i2");
  EXPECT_EQ(ids("INDEXED BY i_interaction_state WHERE state = " + std::to_string(ended)), "i2,i3");
  EXPECT_EQ(ids("INDEXED BY i_interaction_day_started_ms WHERE day = '2026-11-24' AND "
                "started_ms >= 1000"),
            "i1,i3");
  EXPECT_EQ(ids("WHERE peer_name = 'after'"), "i0,i1,i2,i3");
  // After a run of new rows the upserts set every indexed column without looking: still
  // exact.
  std::vector<protocol::Change> third;
  for (int i = 10; i < 16; ++i) {
    auto record = interaction(i, "2026-11-25", 2000 + i, connected, "new");
    third.push_back(testing::put_change("interaction", record.id(), record, 4));
  }
  third.push_back(testing::put_change("interaction", "i1",
                                      interaction(1, "2026-11-25", 1001, connected, "after"), 4));
  pull(third, 4);
  EXPECT_EQ(ids("INDEXED BY i_interaction_day WHERE day = '2026-11-24'"), "i3");
  EXPECT_EQ(ids("INDEXED BY i_interaction_day WHERE day = '2026-11-25'"),
            "i1,i10,i11,i12,i13,i14,i15");
  auto stale = replica_->get<d::Interaction>("i0");
  ASSERT_TRUE(stale.ok() && stale->has_value());
  EXPECT_EQ((*stale)->peer_name(), "after");
  EXPECT_TRUE(replica_->check_integrity().ok());  // every index entry matches its row
}

TEST_F(ReplicaTest, SearchFindsContainsMatchesOfThreeCharactersOrMore) {
  std::vector<protocol::Change> changes;
  const char* names[][3] = {{"Ann", "Verhoeven", "ann@example.com"},
                            {"Bert", "Hoeve", "bert@corp.be"},
                            {"Chloe", "Smith", "chloe@hoevenaars.nl"}};
  int version = 1;
  for (auto& n : names) {
    d::Contact contact;
    contact.set_id(std::string("c-") + n[0]);
    contact.set_first_name(n[0]);
    contact.set_last_name(n[1]);
    contact.set_work_email(n[2]);
    changes.push_back(testing::put_change("contact", contact.id(), contact, version++));
  }
  pull(changes, 3);
  auto found = replica_->search("contact", "HOEVE", {.order_by = "first_name"});
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 3u);  // last names and an email domain, case-insensitive
  EXPECT_EQ(static_cast<const d::Contact&>(*(*found)[0]).first_name(), "Ann");
  auto one = replica_->search("contact", "corp", {});
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(replica_->search("contact", "ho", {}).status().code(), ErrorCode::kInvalidArgument);
  // Deleting a row removes it from the search index too.
  pull({testing::delete_change("contact", "c-Bert", 10)}, 10);
  EXPECT_EQ(replica_->search("contact", "hoeve", {})->size(), 2u);
}

TEST_F(ReplicaTest, TheSearchIndexStaysExactThroughUpdatesDeletesAndRebases) {
  std::mt19937 rng(99);
  uint64_t version = 1;
  auto contact = [&](int i, int revision) {
    d::Contact c;
    c.set_id("c" + std::to_string(i));
    c.set_first_name("First" + std::to_string(i) + "r" + std::to_string(revision));
    c.set_work_email("mail" + std::to_string(revision) + "@x" + std::to_string(i) + ".org");
    return c;
  };
  for (int round = 0; round < 30; ++round) {
    std::vector<protocol::Change> changes;
    for (int n = 0; n < 20; ++n) {
      int i = static_cast<int>(rng() % 40);
      if (rng() % 4 == 0) {
        changes.push_back(testing::delete_change("contact", "c" + std::to_string(i), version++));
      } else {
        // The same key may be written twice in one batch.
        changes.push_back(testing::put_change("contact", "c" + std::to_string(i),
                                              contact(i, round * 100 + n), version++));
      }
    }
    // A pending mutation keeps rebases happening along the way.
    m::SetUserSetting setting;
    setting.set_name("round");
    setting.set_value(std::to_string(round));
    ASSERT_TRUE(replica_->mutate("set_user_setting", setting, round).ok());
    pull(changes, version);
    ASSERT_TRUE(replica_->check_integrity().ok()) << replica_->check_integrity().to_string();
  }
  // Every stored contact is found by its current text, and old text finds nothing.
  auto rows = replica_->sql("SELECT id, first_name FROM c_contact");
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->rows.empty());
  for (const auto& row : rows->rows) {
    auto found = replica_->search("contact", std::get<std::string>(row[1]));
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), 1u) << std::get<std::string>(row[1]);
    EXPECT_EQ(static_cast<const d::Contact&>(*(*found)[0]).id(), std::get<std::string>(row[0]));
  }
}

TEST_F(ReplicaTest, PlainSqlIsReadOnly) {
  auto write = replica_->sql("DELETE FROM c_contact");
  EXPECT_EQ(write.status().code(), ErrorCode::kReadOnly);
  auto bad = replica_->sql("SELEKT 1");
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  auto two = replica_->sql("SELECT 1; DELETE FROM c_contact");
  EXPECT_EQ(two.status().code(), ErrorCode::kInvalidArgument);
  auto ok = replica_->sql("SELECT ? + 1 AS answer", {int64_t{41}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->columns[0], "answer");
  EXPECT_EQ(std::get<int64_t>(ok->rows[0][0]), 42);
}

TEST_F(ReplicaTest, SubscribersHearWhichKeysChangedOnTheirExecutor) {
  std::vector<ChangeSet> heard;
  std::vector<std::function<void()>> posted;
  replica_->subscribe([&](const ChangeSet& changes) { heard.push_back(changes); },
                      [&](std::function<void()> task) { posted.push_back(std::move(task)); });
  pull({testing::put_change("voicemail", "vm1", voicemail("vm1", false), 1)}, 1);
  m::MarkVoicemailRead args;
  args.set_id("vm1");
  ASSERT_TRUE(replica_->mutate("mark_voicemail_read", args, 1).ok());
  EXPECT_TRUE(heard.empty());  // nothing runs until the app's thread runs the tasks
  ASSERT_EQ(posted.size(), 2u);
  for (auto& task : posted) task();
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0].keys.at("voicemail"), std::set<std::string>{"vm1"});
  EXPECT_TRUE(heard[0].cursors_changed);
  EXPECT_TRUE(heard[1].outbox_changed);
  EXPECT_EQ(heard[1].keys.at("voicemail"), std::set<std::string>{"vm1"});
}

TEST_F(ReplicaTest, AReadOnlyReaderSeesCommittedWrites) {
  ReplicaOptions options;
  options.read_only = true;
  auto reader = Replica::open(dir_.file("device.db"), Schema::domain(), nullptr, options);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  pull({testing::put_change("voicemail", "vm1", voicemail("vm1", false), 1)}, 1);
  EXPECT_TRUE((*reader)->get<d::Voicemail>("vm1")->has_value());
  EXPECT_EQ((*reader)->client_id(), replica_->client_id());
}

// The views (decision 016) are the same replica seen through what each caller may touch.
TEST_F(ReplicaTest, TheReaderAndSyncViewsSeeTheSameReplica) {
  ReplicaReader reader(*replica_);
  ReplicaSync sync(*replica_);
  std::vector<ChangeSet> heard;
  const uint64_t id = reader.subscribe([&](const ChangeSet& changes) { heard.push_back(changes); });
  pull({testing::put_change("voicemail", "vm1", voicemail("vm1", false), 1)}, 1);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_FALSE((*reader.get<d::Voicemail>("vm1"))->read());
  EXPECT_EQ(reader.count("voicemail").value(), 1u);
  EXPECT_EQ(reader.query(Query{.collection = "voicemail"}).value().size(), 1u);
  EXPECT_EQ(reader.sql("SELECT id FROM c_voicemail").value().rows.size(), 1u);

  m::MarkVoicemailRead args;
  args.set_id("vm1");
  ASSERT_TRUE(replica_->mutate("mark_voicemail_read", args, 5).ok());
  EXPECT_TRUE((*reader.get<d::Voicemail>("vm1"))->read());
  EXPECT_EQ(heard.size(), 2u);
  EXPECT_EQ(sync.client_id(), replica_->client_id());
  ASSERT_EQ(sync.pending().value().size(), 1u);
  EXPECT_EQ(reader.pending().value().size(), 1u);
  ASSERT_EQ(sync.cursors().value().size(), 2u);

  // The sync view confirms it through a complete pull, like SyncClient does.
  protocol::PullResponse response;
  const std::vector<ScopeCursor> cursors = sync.cursors().value();
  for (const auto& cursor : cursors) {
    auto* scope = response.add_scopes();
    scope->set_scope(cursor.scope);
    scope->set_cursor(cursor.seq);
  }
  response.set_last_mutation_id(sync.pending().value()[0].id);
  ASSERT_TRUE(sync.apply(response).ok());
  EXPECT_TRUE(reader.pending().value().empty());
  reader.unsubscribe(id);
}

}  // namespace
}  // namespace outpost
