// Two SyncClients, each with its own Replica, on one replica file (two processes syncing
// at once, decision 007), against the real server core: requests built from the same
// stored cursors, answers applied in any order, the file must end as the server's.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
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

constexpr const char* kScope = "user/acme/ann";

struct Process {
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncClient> client;
};

class SyncSharedFile : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
  }

  Process open_process() {
    ReplicaOptions options{.tenant = "acme", .user = "ann", .client_id = "ann-phone"};
    auto replica =
        Replica::open(dir_.file("phone.db"), Schema::domain(), &domain_mutators(), options);
    EXPECT_TRUE(replica.ok()) << replica.status().to_string();
    Process process;
    process.replica = std::move(replica).value();
    // Small pages: a reset manifest takes several.
    process.client = std::make_unique<SyncClient>(
        *process.replica, SyncClientOptions{.max_changes_per_pull = 4, .max_fetch_keys = 3});
    process.client->on_connected();
    return process;
  }

  void seed_voicemail(const std::string& id, const std::string& transcription) {
    d::Voicemail voicemail;
    voicemail.set_id(id);
    voicemail.set_caller_name("Caller " + id);
    voicemail.set_received_ms(1000);
    voicemail.set_transcription(transcription);
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      auto version = tx.put(kScope, "voicemail", id, 0, voicemail.SerializeAsString());
      return version.ok() ? Status::Ok() : version.status();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  // Both processes build their next request from the file, the server answers both, then
  // the answers are applied (`second_first`: the second process's first). Returns false
  // when neither had anything to send.
  bool lockstep(Process& first, Process& second, bool second_first) {
    Principal who{"acme", "ann", "phone"};
    std::vector<std::pair<Process*, protocol::PullResponse>> answers;
    for (Process* process : {&first, &second}) {
      auto frame = process->client->next_request();
      EXPECT_TRUE(frame.ok()) << frame.status().to_string();
      if (!frame.ok() || !frame->has_value()) continue;
      EXPECT_TRUE((*frame)->has_pull());
      auto response = core_->pull(who, (*frame)->pull());
      EXPECT_TRUE(response.ok()) << response.status().to_string();
      if (response.ok()) answers.emplace_back(process, std::move(response).value());
    }
    if (second_first) std::reverse(answers.begin(), answers.end());
    for (auto& [process, response] : answers) {
      Status applied = process->client->on_pull_response(response);
      EXPECT_TRUE(applied.ok()) << applied.to_string();
    }
    return !answers.empty();
  }

  void seed_draft(d::DraftStatus status) {
    d::Draft draft;
    draft.set_id("draft-1");
    draft.set_body("hello");
    draft.set_status(status);
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      auto version = tx.put(kScope, "draft", "draft-1", 0, draft.SerializeAsString());
      return version.ok() ? Status::Ok() : version.status();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
};

// Found by outpost-sim --two-process: both processes asked for the last page of a reset
// manifest; the second to apply it took it for the first page of a new reset, kept only
// its keys, and finishing the reset deleted every record the other pages had listed.
TEST_F(SyncSharedFile, TwoProcessesResettingAtOnceKeepEveryRecord) {
  for (int i = 0; i < 30; ++i) seed_voicemail("vm" + std::to_string(i), "hello");
  Process first = open_process();
  Process second = open_process();
  for (int i = 0; i < 200 && lockstep(first, second, false); ++i) {
  }
  // The device falls behind the compaction horizon.
  for (int i = 0; i < 10; ++i) seed_voicemail("vm" + std::to_string(i), "changed");
  ASSERT_TRUE(core_->compact(kScope, 0).ok());
  for (bool second_first : {false, true}) {
    first.client->on_poke(protocol::Poke());
    second.client->on_poke(protocol::Poke());
    int exchanges = 0;
    while (exchanges < 200 && lockstep(first, second, second_first)) ++exchanges;
    ASSERT_LT(exchanges, 200) << "the two processes never settled";
    EXPECT_EQ(support::device_view(*first.replica, SCOPE_USER),
              support::server_view(*store_, {kScope}));
    for (int i = 10; i < 20; ++i) seed_voicemail("vm" + std::to_string(i), "again");
    ASSERT_TRUE(core_->compact(kScope, 0).ok());
  }
}

// Runs one process alone (request, answer, apply) until `stop` holds before a request
// goes out (that request is then dropped, as with a lost connection) or it settles.
void drive(ServerCore& core, Process& process,
           const std::function<bool(const protocol::ClientFrame&)>& stop) {
  const Principal who{"acme", "ann", "phone"};
  for (int i = 0; i < 200; ++i) {
    auto frame = process.client->next_request();
    ASSERT_TRUE(frame.ok()) << frame.status().to_string();
    if (!frame->has_value()) return;
    if (stop(**frame)) {
      process.client->on_request_failed();
      return;
    }
    ASSERT_TRUE((*frame)->has_pull());
    auto response = core.pull(who, (*frame)->pull());
    ASSERT_TRUE(response.ok()) << response.status().to_string();
    ASSERT_TRUE(process.client->on_pull_response(*response).ok());
  }
  FAIL() << "never settled";
}

// Found by outpost-sim --two-process (seed 2 of the harsh world): a process kept the keys
// it had fetched in one reset as "asked for" while the other process finished that reset
// and started the next one; it then skipped those keys, finished the new reset without
// them and kept their old versions for good.
TEST_F(SyncSharedFile, KeysFetchedInAResetAnotherProcessFinishedAreFetchedAgainInTheNext) {
  for (int i = 0; i < 30; ++i) seed_voicemail("vm" + std::to_string(i), "hello");
  Process first = open_process();
  Process second = open_process();
  for (int i = 0; i < 200 && lockstep(first, second, false); ++i) {
  }
  auto change = [&](int from, int to, const std::string& text) {
    for (int i = from; i < to; ++i) seed_voicemail("vm" + std::to_string(i), text);
    ASSERT_TRUE(core_->compact(kScope, 0).ok());
    first.client->on_poke(protocol::Poke());
    second.client->on_poke(protocol::Poke());
  };
  change(0, 10, "changed");
  // The first process fetches one batch (vm0, vm1, vm2) and is stopped before the next.
  int fetches = 0;
  drive(*core_, first, [&](const protocol::ClientFrame& frame) {
    return frame.pull().fetch_size() > 0 && ++fetches == 2;
  });
  // The second finishes that reset; then those keys change again and the second process
  // reads the next reset's whole manifest.
  drive(*core_, second, [](const protocol::ClientFrame&) { return false; });
  change(0, 3, "again");
  drive(*core_, second,
        [](const protocol::ClientFrame& frame) { return frame.pull().fetch_size() > 0; });
  // The first process takes it from there.
  drive(*core_, first, [](const protocol::ClientFrame&) { return false; });
  EXPECT_EQ(support::device_view(*first.replica, SCOPE_USER),
            support::server_view(*store_, {kScope}));
}

// Found by outpost-sim --two-process (seed 464): one process's pull, built while the
// outbox was empty, was answered after the other process pushed a mutation the server
// rejected. The answer's last_mutation_id covered it but carried no rejection (the request
// named no pending mutation), so the mutation left the outbox as confirmed and the push
// answer's rejection found nothing to record: the user's edit vanished without a reason.
TEST_F(SyncSharedFile, AMutationRejectedWhileAnotherProcessesPullIsInFlightStaysRejected) {
  seed_draft(d::DRAFT_EDITING);
  Process sync = open_process();
  Process app = open_process();
  for (int i = 0; i < 200 && lockstep(sync, app, false); ++i) {
  }
  seed_draft(d::DRAFT_SENT);  // sent from the web meanwhile
  const Principal who{"acme", "ann", "phone"};

  sync.client->on_poke(protocol::Poke());
  auto pull = sync.client->next_request();
  ASSERT_TRUE(pull.ok() && pull->has_value() && (*pull)->has_pull());
  m::SaveDraft edit;
  edit.mutable_draft()->set_id("draft-1");
  edit.mutable_draft()->set_body("hello world");
  auto id = app.replica->mutate("save_draft", edit, 1);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  auto push = app.client->next_request();
  ASSERT_TRUE(push.ok() && push->has_value() && (*push)->has_push());
  auto pushed = core_->push(who, (*push)->push(), 1);
  ASSERT_TRUE(pushed.ok());
  ASSERT_EQ(pushed->results(0).outcome(), protocol::MutationResult::REJECTED);
  auto pulled = core_->pull(who, (*pull)->pull());
  ASSERT_TRUE(pulled.ok());
  ASSERT_TRUE(sync.client->on_pull_response(*pulled).ok());
  ASSERT_TRUE(app.client->on_push_response(*pushed).ok());

  auto rejected = app.replica->rejected();
  ASSERT_TRUE(rejected.ok());
  ASSERT_EQ(rejected->size(), 1u);
  EXPECT_EQ((*rejected)[0].id, *id);
  EXPECT_EQ((*rejected)[0].reason, "draft was already sent");
  for (int i = 0; i < 200 && lockstep(sync, app, false); ++i) {
  }
  EXPECT_TRUE(app.replica->pending()->empty());
  EXPECT_EQ(support::device_view(*app.replica, SCOPE_USER),
            support::server_view(*store_, {kScope}));
}

}  // namespace
}  // namespace outpost
