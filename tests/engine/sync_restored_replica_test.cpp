// A replica file restored from an older copy (a phone restored from its backup, an app's
// data copied to a new phone) numbers its next mutations with ids the server has already
// processed for that client: they must still be applied, never taken for retries.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/mutation_print.h"
#include "engine/replica.h"
#include "engine/server_core.h"
#include "engine/sync_client.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "support/views.h"
#include "test_support.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
namespace m = outpost::mutations;
namespace fs = std::filesystem;

constexpr const char* kScope = "user/acme/ann";

class SyncRestoredReplica : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    open_phone();
  }

  void open_phone() {
    ReplicaOptions options{.tenant = "acme", .user = "ann", .client_id = "ann-phone"};
    auto replica =
        Replica::open(dir_.file("phone.db"), Schema::domain(), &domain_mutators(), options);
    ASSERT_TRUE(replica.ok()) << replica.status().to_string();
    replica_ = std::move(replica).value();
    client_ = std::make_unique<SyncClient>(*replica_, SyncClientOptions{});
    client_->on_connected();
  }

  void close_phone() {
    client_.reset();
    replica_.reset();
  }

  // The file as a backup would hold it (the last connection closed: no -wal left).
  void copy_phone_to(const std::string& name) {
    close_phone();
    ASSERT_FALSE(fs::exists(dir_.file("phone.db-wal")));
    fs::copy_file(dir_.file("phone.db"), dir_.file(name), fs::copy_options::overwrite_existing);
    open_phone();
  }

  void restore_phone_from(const std::string& name) {
    close_phone();
    fs::copy_file(dir_.file(name), dir_.file("phone.db"), fs::copy_options::overwrite_existing);
    open_phone();
  }

  uint64_t save_draft(const std::string& id, const std::string& body) {
    m::SaveDraft edit;
    edit.mutable_draft()->set_id(id);
    edit.mutable_draft()->set_body(body);
    auto mutation = replica_->mutate("save_draft", edit, 1);
    EXPECT_TRUE(mutation.ok()) << mutation.status().to_string();
    return mutation.ok() ? *mutation : 0;
  }

  // Requests and answers until the device has nothing left to send.
  void sync() {
    const Principal who{"acme", "ann", "phone"};
    client_->on_poke(protocol::Poke());
    for (int i = 0; i < 100; ++i) {
      auto frame = client_->next_request();
      ASSERT_TRUE(frame.ok()) << frame.status().to_string();
      if (!frame->has_value()) return;
      if ((*frame)->has_push()) {
        auto response = core_->push(who, (*frame)->push(), 1);
        if (!response.ok()) {
          auto again = client_->on_request_refused(response.status());
          ASSERT_TRUE(again.ok() && *again) << response.status().to_string();
          continue;
        }
        ASSERT_TRUE(client_->on_push_response(*response).ok());
      } else {
        auto response = core_->pull(who, (*frame)->pull());
        if (!response.ok()) {
          auto again = client_->on_request_refused(response.status());
          ASSERT_TRUE(again.ok() && *again) << response.status().to_string();
          continue;
        }
        ASSERT_TRUE(client_->on_pull_response(*response).ok());
      }
    }
    FAIL() << "never settled";
  }

  std::string server_draft_body(const std::string& id) {
    auto body = store_->get(kScope, "draft", id);
    if (!body.ok() || !body->has_value()) return "(none)";
    d::Draft draft;
    EXPECT_TRUE(draft.ParseFromString((*body)->body));
    return draft.body();
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<SyncClient> client_;
};

TEST_F(SyncRestoredReplica, WordsTypedAfterARestoreFromAnOlderBackupReachTheServer) {
  save_draft("d1", "before the backup");
  sync();
  // The backup holds one mutation the server has not seen yet: after the restore it is a
  // true retry of what the phone sent before it was lost.
  save_draft("d2", "in the backup, sent after it");
  copy_phone_to("backup.db");
  for (int i = 3; i <= 6; ++i) save_draft("d" + std::to_string(i), "after the backup");
  sync();
  ASSERT_EQ(server_draft_body("d6"), "after the backup");

  restore_phone_from("backup.db");
  const uint64_t reused = save_draft("d7", "typed on the restored phone");
  EXPECT_LE(reused, 6u) << "the restored file numbers from its own past";
  save_draft("d1", "edited on the restored phone");
  sync();

  EXPECT_EQ(server_draft_body("d7"), "typed on the restored phone");
  EXPECT_EQ(server_draft_body("d1"), "edited on the restored phone");
  EXPECT_EQ(server_draft_body("d2"), "in the backup, sent after it");
  EXPECT_TRUE(replica_->pending()->empty());
  EXPECT_TRUE(replica_->rejected()->empty());
  EXPECT_EQ(support::device_view(*replica_, SCOPE_USER), support::server_view(*store_, {kScope}));
}

// A pull confirms pending mutations by id: the same check, from the prints it carries.
TEST_F(SyncRestoredReplica, APullWhosePendingPrintsDifferIsRefusedBeforeItConfirmsAnything) {
  for (int i = 1; i <= 3; ++i) save_draft("d" + std::to_string(i), "sent");
  sync();
  const Principal who{"acme", "ann", "phone"};
  auto pull_with = [&](uint64_t id, uint64_t print, uint64_t processed_through) {
    protocol::PullRequest pull;
    pull.set_client_id("ann-phone");
    pull.set_schema_version(Schema::domain().version());
    pull.set_protocol_version(protocol::VERSION_CURRENT);
    pull.set_pending_from(id);
    pull.set_processed_through(processed_through);
    auto* pending = pull.add_pending_prints();
    pending->set_id(id);
    pending->set_print(print);
    return core_->pull(who, pull);
  };
  auto pending = replica_->pending();
  ASSERT_TRUE(pending.ok() && pending->empty());
  const uint64_t other = mutation_print("save_draft", "something else", 1);
  auto refused = pull_with(2, other, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition);
  auto reused = find_mutation_ids_reused(refused.status().message());
  ASSERT_TRUE(reused.has_value()) << refused.status().to_string();
  EXPECT_EQ(reused->first, 2u);
  EXPECT_EQ(reused->last, 3u);
  // An id above the server's last is not checked (it is new), nor one whose print matches.
  EXPECT_TRUE(pull_with(4, other, 0).ok());

  // Bounded and ordered, like everything a device sends.
  protocol::PullRequest pull;
  pull.set_client_id("ann-phone");
  pull.set_schema_version(Schema::domain().version());
  pull.set_protocol_version(protocol::VERSION_CURRENT);
  for (uint64_t id = 1; id <= kMutationPrintWindow + 1; ++id) {
    auto* pending = pull.add_pending_prints();
    pending->set_id(id);
    pending->set_print(1);
  }
  EXPECT_EQ(core_->pull(who, pull).status().code(), ErrorCode::kTooLarge);
  pull.mutable_pending_prints()->DeleteSubrange(2, kMutationPrintWindow - 1);
  pull.mutable_pending_prints(1)->set_id(1);
  EXPECT_EQ(core_->pull(who, pull).status().code(), ErrorCode::kInvalidArgument);
}

// A pull's rejections are the outcomes of the ids it named. One answered after the restored
// phone typed a new mutation at a reused id must not turn that new mutation into the old
// one's rejection (outpost-sim's restore fault found it: the note was refused as "draft id
// is required" and never sent).
TEST_F(SyncRestoredReplica, AnOldRejectionAtAReusedIdDoesNotRefuseWhatWasTypedAfterTheRestore) {
  save_draft("d1", "before the backup");
  sync();
  save_draft("d2", "in the backup, sent after it");  // id 2, pending in the backup
  copy_phone_to("backup.db");
  sync();
  // Before it was lost, the phone also had id 3 refused by the server.
  const Principal who{"acme", "ann", "phone"};
  protocol::PushRequest push;
  push.set_client_id("ann-phone");
  push.set_schema_version(Schema::domain().version());
  push.set_protocol_version(protocol::VERSION_CURRENT);
  auto* refused = push.add_mutations();
  refused->set_id(3);
  refused->set_name("save_draft");
  refused->set_args(m::SaveDraft().SerializeAsString());  // no draft id
  refused->set_created_ms(1);
  auto pushed = core_->push(who, push, 1);
  ASSERT_TRUE(pushed.ok()) << pushed.status().to_string();
  ASSERT_EQ(pushed->results(0).outcome(), protocol::MutationResult::REJECTED);

  restore_phone_from("backup.db");
  client_->on_poke(protocol::Poke());
  auto retry = client_->next_request();  // id 2 again: a true retry
  ASSERT_TRUE(retry.ok() && retry->has_value() && (*retry)->has_push());
  auto retried = core_->push(who, (*retry)->push(), 1);
  ASSERT_TRUE(retried.ok()) << retried.status().to_string();
  ASSERT_TRUE(client_->on_push_response(*retried).ok());
  auto pull = client_->next_request();  // names id 2 only
  ASSERT_TRUE(pull.ok() && pull->has_value() && (*pull)->has_pull());
  const uint64_t typed = save_draft("d7", "typed while the pull was out");
  ASSERT_EQ(typed, 3u) << "the restored file numbers from its own past";
  auto answer = core_->pull(who, (*pull)->pull());
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  ASSERT_TRUE(client_->on_pull_response(*answer).ok());
  EXPECT_TRUE(replica_->rejected()->empty()) << "the old refusal of id 3 landed on d7";

  sync();
  EXPECT_EQ(server_draft_body("d7"), "typed while the pull was out");
  EXPECT_EQ(server_draft_body("d2"), "in the backup, sent after it");
  EXPECT_TRUE(replica_->pending()->empty());
  EXPECT_TRUE(replica_->rejected()->empty());
  EXPECT_EQ(support::device_view(*replica_, SCOPE_USER), support::server_view(*store_, {kScope}));
}

// Decision 065: `_outbox` has no AUTOINCREMENT counter. Once the server confirmed every
// mutation the outbox is empty, and the next id must still follow the last one issued:
// beyond the server's print window (512 ids) an id at or below what the device was told
// is processed is taken for a retry, answered "processed" and never run.
TEST_F(SyncRestoredReplica, AnEmptiedOutboxNumbersOnAcrossAReopenAndTheServerRunsWhatFollows) {
  const uint64_t sent = kMutationPrintWindow + 8;
  for (uint64_t i = 1; i <= sent; ++i) save_draft("d" + std::to_string(i % 5), "sent");
  sync();
  ASSERT_TRUE(replica_->pending()->empty());
  ASSERT_EQ(*replica_->processed_through(), sent);
  EXPECT_EQ(save_draft("d1", "typed on the emptied outbox"), sent + 1);
  sync();
  close_phone();
  open_phone();
  EXPECT_EQ(save_draft("d2", "typed after the reopen"), sent + 2);
  sync();
  EXPECT_EQ(server_draft_body("d1"), "typed on the emptied outbox");
  EXPECT_EQ(server_draft_body("d2"), "typed after the reopen");
  EXPECT_TRUE(replica_->pending()->empty());
  EXPECT_EQ(support::device_view(*replica_, SCOPE_USER), support::server_view(*store_, {kScope}));
}

// A crash image: the file and its -wal as a power cut leaves them (the connection open, the
// commit that emptied the outbox still in the WAL). The id it numbers from is in the file,
// written by the transaction that emptied the outbox, not in a connection's memory.
TEST_F(SyncRestoredReplica, ACrashImageOfAnEmptiedOutboxNumbersOn) {
  const uint64_t sent = kMutationPrintWindow + 3;
  for (uint64_t i = 1; i <= sent; ++i) save_draft("d" + std::to_string(i % 5), "sent");
  sync();
  ASSERT_TRUE(replica_->pending()->empty());
  ASSERT_GT(fs::file_size(dir_.file("phone.db-wal")), 0u);
  fs::copy_file(dir_.file("phone.db"), dir_.file("crash.db"));
  fs::copy_file(dir_.file("phone.db-wal"), dir_.file("crash.db-wal"));
  close_phone();
  fs::copy_file(dir_.file("crash.db"), dir_.file("phone.db"), fs::copy_options::overwrite_existing);
  fs::copy_file(dir_.file("crash.db-wal"), dir_.file("phone.db-wal"));
  open_phone();
  ASSERT_TRUE(replica_->pending()->empty());
  EXPECT_EQ(save_draft("d1", "typed after the crash"), sent + 1);
  sync();
  EXPECT_EQ(server_draft_body("d1"), "typed after the crash");
  EXPECT_TRUE(replica_->check_integrity().ok());
}

// Decision 042's restore story with an outbox the backup held empty: the restored file
// numbers from the backup's past (ids the server processed since), and the prints catch it.
TEST_F(SyncRestoredReplica, ABackupTakenWithAnEmptyOutboxNumbersFromItsPastAndIsRenumbered) {
  for (int i = 1; i <= 3; ++i) save_draft("d" + std::to_string(i), "before the backup");
  sync();
  ASSERT_TRUE(replica_->pending()->empty());
  copy_phone_to("backup.db");
  for (int i = 4; i <= 6; ++i) save_draft("d" + std::to_string(i), "after the backup");
  sync();

  restore_phone_from("backup.db");
  EXPECT_EQ(save_draft("d7", "typed on the restored phone"), 4u)
      << "the backup issued 1..3: the restored file numbers on from there, not from 1";
  sync();
  EXPECT_EQ(server_draft_body("d7"), "typed on the restored phone");
  EXPECT_EQ(server_draft_body("d4"), "after the backup");
  EXPECT_EQ(save_draft("d8", "and after that"), 8u)
      << "d7 was renumbered to 7, past the server's 6";
  sync();
  EXPECT_EQ(server_draft_body("d8"), "and after that");
  EXPECT_TRUE(replica_->pending()->empty());
  EXPECT_EQ(support::device_view(*replica_, SCOPE_USER), support::server_view(*store_, {kScope}));
}

TEST_F(SyncRestoredReplica, RenumberingKeepsTheOrderAndTheNextIdFollows) {
  for (int i = 1; i <= 4; ++i) save_draft("d" + std::to_string(i), "v" + std::to_string(i));
  auto renumbered = replica_->renumber_pending(ReusedIds{2, 10});
  ASSERT_TRUE(renumbered.ok()) << renumbered.status().to_string();
  auto pending = replica_->pending();
  ASSERT_TRUE(pending.ok());
  std::vector<uint64_t> ids;
  for (const auto& mutation : *pending) ids.push_back(mutation.id);
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 11, 12, 13}));
  EXPECT_EQ(save_draft("d5", "v5"), 14u);
  EXPECT_EQ(*replica_->processed_through(), 10u);
  EXPECT_EQ(replica_->renumber_pending(ReusedIds{0, 3}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(replica_->renumber_pending(ReusedIds{5, 3}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(replica_->renumber_pending(ReusedIds{2, ~uint64_t{0}}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(save_draft("d6", "v6"), 15u) << "a refused renumbering changes nothing";
}

TEST(MutationPrint, IsStableAndTellsNameArgsAndTimeApart) {
  const uint64_t print = mutation_print("save_draft", "args", 5);
  EXPECT_EQ(print, mutation_print("save_draft", "args", 5));
  EXPECT_NE(print, mutation_print("save_drafts", "args", 5));
  EXPECT_NE(print, mutation_print("save_draft", "argz", 5));
  EXPECT_NE(print, mutation_print("save_draft", "args", 6));
  // Length-prefixed: moving a byte from the name to the args changes the print.
  EXPECT_NE(mutation_print("ab", "c", 1), mutation_print("a", "bc", 1));
  EXPECT_NE(mutation_print("", "", 0), 0u);
}

TEST(MutationPrint, TheRefusalDetailParsesBackAndNothingElseDoes) {
  auto found = find_mutation_ids_reused("409: " + mutation_ids_reused(ReusedIds{4, 9}) + ": x");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->first, 4u);
  EXPECT_EQ(found->last, 9u);
  for (const char* bad :
       {"", "mutation_ids_reused(", "mutation_ids_reused(4,9", "mutation_ids_reused(,9)",
        "mutation_ids_reused(4,)", "mutation_ids_reused(0,9)", "mutation_ids_reused(9,4)",
        "mutation_ids_reused(4,9x)", "mutation_ids_reused(-4,9)",
        "mutation_ids_reused(4,99999999999999999999)", "mutation_ids_reused(4)9)"}) {
    EXPECT_FALSE(find_mutation_ids_reused(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace outpost
