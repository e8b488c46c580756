// Bad input to the replica gets a clear error and changes nothing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "test_support.h"

namespace outpost {
namespace {

namespace m = outpost::mutations;

class ReplicaBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Replica::open(dir_.file("device.db"), Schema::domain(), &domain_mutators(),
                                {.tenant = "acme", .user = "agent1", .client_id = "device-1"});
    ASSERT_TRUE(opened.ok());
    replica_ = std::move(opened).value();
  }

  // Everything a bad call could have touched.
  std::string snapshot() {
    std::string out;
    for (const char* sql : {"SELECT count(*) FROM _outbox", "SELECT count(*) FROM c_draft",
                            "SELECT count(*) FROM _shadow", "SELECT count(*) FROM _cursors"}) {
      auto rows = replica_->sql(sql);
      EXPECT_TRUE(rows.ok());
      out += std::to_string(std::get<int64_t>(rows->rows[0][0])) + ",";
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaBadInput, UnknownCollectionOrMutator) {
  std::string before = snapshot();
  EXPECT_EQ(replica_->get("nope", "k").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(replica_->search("nope", "abc").status().code(), ErrorCode::kNotFound);
  auto unknown = replica_->mutate_json("launch_rockets", "{}", 1);
  EXPECT_EQ(unknown.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("launch_rockets"), std::string::npos);
  EXPECT_EQ(snapshot(), before);
}

// Decision 045: column pages are the transport's to expand; one that reaches the replica
// (a transport that asked for them and did not expand) is refused whole, nothing applied.
TEST_F(ReplicaBadInput, AColumnPageThatWasNotExpandedIsRefused) {
  std::string before = snapshot();
  protocol::PullResponse response;
  protocol::ScopeChanges* scope = response.add_scopes();
  scope->set_scope("org/acme");
  scope->set_cursor(5);
  scope->set_head_seq(5);
  scope->mutable_columns()->set_count(1);
  auto applied = replica_->apply(response);
  EXPECT_EQ(applied.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(applied.status().message().find("unexpanded"), std::string::npos);
  EXPECT_EQ(snapshot(), before);
  auto cursors = replica_->cursors();
  ASSERT_TRUE(cursors.ok());
  for (const ScopeCursor& cursor : *cursors) EXPECT_EQ(cursor.seq, 0u) << cursor.scope;
}

// Found by fuzz/cli_fuzzer.cpp: search text that is not UTF-8 reached the FTS5 MATCH
// expression and came back as an "io" error (fts5 syntax / phrase errors).
TEST_F(ReplicaBadInput, SearchTextThatIsNotUtf8) {
  ASSERT_TRUE(replica_->search("contact", "pee").ok());
  for (const std::string& text :
       {std::string("\xc3\x28\xc3\x28"), std::string("pee\x9b\x9b\x9b\xff\xff\xff\xff\x9b"),
        std::string("ab\xc3"), std::string("\xed\xa0\x80xyz"),
        std::string("\xc0\xaf"
                    "abc")}) {
    auto found = replica_->search("contact", text);
    EXPECT_EQ(found.status().code(), ErrorCode::kInvalidArgument) << found.status().to_string();
  }
  // Multi-byte characters that are UTF-8 are searched as before.
  EXPECT_TRUE(replica_
                  ->search("contact",
                           "ab\xf0\x9f\x98\x80"
                           "c")
                  .ok());
  EXPECT_TRUE(replica_->search("contact", "Gr\xc3\xbc\xc3\x9f").ok());
}

TEST_F(ReplicaBadInput, MalformedArguments) {
  std::string before = snapshot();
  EXPECT_EQ(replica_->mutate_json("save_draft", "{not json", 1).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      replica_->mutate_json("save_draft", R"({"draft": {"nosuchfield": 1}})", 1).status().code(),
      ErrorCode::kInvalidArgument);
  // The wrong message type for the mutator.
  m::DeleteDraft wrong;
  wrong.set_id("d1");
  EXPECT_EQ(replica_->mutate("save_draft", wrong, 1).status().code(), ErrorCode::kInvalidArgument);
  // A valid message the mutator refuses: no id.
  EXPECT_EQ(replica_->mutate_json("save_draft", R"({"draft": {"body": "hi"}})", 1).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ReplicaBadInput, MalformedServerChangeAppliesNothing) {
  protocol::PullResponse response;
  auto* scope = response.add_scopes();
  scope->set_scope("user/acme/agent1");
  domain::Draft good;
  good.set_id("d1");
  *scope->add_changes() = testing::put_change("draft", "d1", good, 1);
  auto* bad = scope->add_changes();
  bad->set_collection("draft");
  bad->set_key("d2");
  bad->set_op(protocol::Change::PUT);
  bad->set_version(2);
  bad->set_body("\xff\xff\xff garbage");
  scope->set_cursor(2);
  std::string before = snapshot();
  auto applied = replica_->apply(response);
  EXPECT_EQ(applied.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(snapshot(), before);  // not even the good change, nor the cursor
}

// Decision 060: a contact (a flat record) takes the fast path, which leaves anything but a
// canonical body to protobuf; a server contact protobuf refuses (a string that is not
// UTF-8) or whose body names another key is refused whole, the good change before it too,
// in a snapshot page (search deferred) and in a log page alike.
TEST_F(ReplicaBadInput, AMalformedServerContactAppliesNothing) {
  domain::Contact good;
  good.set_id("c1");
  good.set_first_name("Ann");
  domain::Contact other;
  other.set_id("c3");
  const std::string not_utf8 = other.SerializeAsString() + std::string("\x12\x02\xc3\x28", 4);
  for (uint64_t stored_cursor : {0u, 5u}) {
    if (stored_cursor > 0) {
      protocol::PullResponse first;
      first.add_scopes()->set_scope("org/acme");
      first.mutable_scopes(0)->set_cursor(stored_cursor);
      ASSERT_TRUE(replica_->apply(first).ok());
    }
    for (const auto& [key, body] :
         {std::pair<std::string, std::string>{"c3", not_utf8}, {"c2", good.SerializeAsString()}}) {
      protocol::PullResponse response;
      auto* scope = response.add_scopes();
      scope->set_scope("org/acme");
      *scope->add_changes() = testing::put_change("contact", "c1", good, 1);
      auto* bad = scope->add_changes();
      bad->set_collection("contact");
      bad->set_key(key);
      bad->set_op(protocol::Change::PUT);
      bad->set_version(2);
      bad->set_body(body);
      scope->set_cursor(stored_cursor + 2);
      std::string before = snapshot();
      auto applied = replica_->apply(response);
      EXPECT_EQ(applied.status().code(), ErrorCode::kInvalidArgument) << key;
      EXPECT_EQ(snapshot(), before);
      EXPECT_EQ(replica_->count("contact").value(), 0u);
    }
  }
}

TEST(ReplicaFiles, ACorruptFileIsRefusedAndUntouched) {
  testing::TempDir dir;
  const std::string path = dir.file("garbage.db");
  std::string garbage(8192, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) % 251);
  testing::write_file(path, garbage);
  auto opened = Replica::open(path, Schema::domain(), &domain_mutators());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kCorrupt) << opened.status().to_string();
  EXPECT_EQ(testing::read_file(path), garbage);
}

TEST(ReplicaFiles, AnotherSqliteDatabaseIsNotAReplica) {
  testing::TempDir dir;
  const std::string path = dir.file("other.db");
  {
    SQLite::Database other(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE mine (x INTEGER)");
  }
  std::string before = testing::read_file(path);
  auto opened = Replica::open(path, Schema::domain(), &domain_mutators());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(opened.status().message().find("not an outpost replica"), std::string::npos);
  EXPECT_EQ(testing::read_file(path), before);
}

TEST(ReplicaFiles, AReadOnlyDirectoryGivesAClearError) {
  testing::TempDir dir;
  const std::string locked = dir.file("locked");
  ASSERT_EQ(mkdir(locked.c_str(), 0555), 0);
  // Root ignores directory permissions, so the attempt runs as an unprivileged user.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (geteuid() == 0 && setuid(65534) != 0) _exit(10);
    auto opened = Replica::open(locked + "/device.db", Schema::domain(), &domain_mutators(),
                                {.client_id = "device-1"});
    if (opened.ok()) _exit(11);
    if (opened.status().code() != ErrorCode::kIo) _exit(12);
    if (opened.status().message().find("device.db") == std::string::npos) _exit(13);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(locked + "/device.db"));
}

TEST(ReplicaFiles, ANewFileTakesItsClientIdFromTheCallerOnce) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  // The engine draws no randomness: a new file without an id is refused.
  auto refused = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "alice"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("client_id"), std::string::npos);
  {
    auto first = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "alice", .client_id = "phone-1"});
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    EXPECT_EQ((*first)->client_id(), "phone-1");
  }
  // Generated once per file: a later open keeps it, whatever id it offers or none.
  auto again = Replica::open(path, Schema::domain(), &domain_mutators(), {.client_id = "other"});
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*again)->client_id(), "phone-1");
  auto bare = Replica::open(path, Schema::domain(), &domain_mutators());
  ASSERT_TRUE(bare.ok()) << bare.status().to_string();
  EXPECT_EQ((*bare)->client_id(), "phone-1");
}

TEST(ReplicaFiles, AReplicaBelongsToOneUser) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  {
    auto alice = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "alice", .client_id = "device-1"});
    ASSERT_TRUE(alice.ok());
    ASSERT_TRUE(
        (*alice)->mutate_json("set_user_setting", R"({"name": "a", "value": "b"})", 1).ok());
  }
  std::string before = testing::read_file(path);
  auto bob =
      Replica::open(path, Schema::domain(), &domain_mutators(), {.tenant = "acme", .user = "bob"});
  ASSERT_FALSE(bob.ok());
  EXPECT_EQ(bob.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(bob.status().message().find("acme/alice"), std::string::npos);
  auto other_tenant = Replica::open(path, Schema::domain(), &domain_mutators(),
                                    {.tenant = "globex", .user = "alice"});
  EXPECT_EQ(other_tenant.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(testing::read_file(path), before);
  // Opening without an identity (tools, the UI's reader) is fine.
  EXPECT_TRUE(Replica::open(path, Schema::domain(), &domain_mutators()).ok());
}

TEST(ReplicaFiles, AReadOnlyReplicaRefusesWrites) {
  testing::TempDir dir;
  const std::string path = dir.file("device.db");
  ASSERT_TRUE(
      Replica::open(path, Schema::domain(), &domain_mutators(), {.client_id = "device-1"}).ok());
  auto reader = Replica::open(path, Schema::domain(), &domain_mutators(), {.read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  auto written = (*reader)->mutate_json("set_user_setting", R"({"name": "a", "value": "b"})", 1);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), ErrorCode::kReadOnly) << written.status().to_string();
}

}  // namespace
}  // namespace outpost
