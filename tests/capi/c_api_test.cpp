// The C API (include/outpost/outpost.h) through its C functions only, against a real
// in-process server on 127.0.0.1 (SqliteServerStore + ServerCore + SyncServer): errors as
// values, records in JSON and protobuf, the SQL cursor, both kinds of change
// subscriptions (callbacks that call back in), the agent's thread, the credentials
// callback and a rejected mutation retried. Runs in the release, ASan and TSan trees.
#include "outpost/outpost.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "support/tls_certs.h"
#include "tests/capi/capi_test_support.h"
#include "tests/engine/test_support.h"
#include "transport/sync_server.h"
#include "transport/tls_server.h"
#include "transport/token.h"

namespace outpost {
namespace {

using capi_testing::Err;
using capi_testing::take;
using capi_testing::wall_ms;

using namespace std::chrono_literals;

const std::string kKey(32, 'k');
constexpr int64_t kHour = 3600'000;

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

outpost_status mutate(outpost_replica* replica, const std::string& name, const std::string& json,
                      uint64_t* id = nullptr, outpost_error* error = nullptr) {
  return outpost_replica_mutate(replica, OUTPOST_FORMAT_JSON, name.data(), name.size(), json.data(),
                                json.size(), id, error);
}

std::string get_json(outpost_replica* replica, const std::string& collection,
                     const std::string& key) {
  outpost_bytes out{};
  bool found = false;
  Err error;
  EXPECT_EQ(outpost_replica_get(replica, OUTPOST_FORMAT_JSON, collection.data(), collection.size(),
                                key.data(), key.size(), &out, &found, &error),
            OUTPOST_OK)
      << error.message();
  return found ? take(out) : "";
}

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteServerStore::open(dir_.file("server.db"));
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    SyncServerOptions options;
    options.shutdown_grace_ms = 1000;
    options.now_ms = [this] { return wall_ms() + skew_.load(); };
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    ASSERT_TRUE(server_->start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    for (outpost_agent* agent : agents_) EXPECT_EQ(outpost_agent_close(agent, nullptr), OUTPOST_OK);
    server_->stop();
  }

  std::string token(const std::string& device = "device-1") {
    protocol::TokenClaims claims;
    claims.set_tenant("acme");
    claims.set_user("agent-1");
    claims.set_device(device);
    claims.set_issued_ms(wall_ms() + skew_.load());
    claims.set_expires_ms(wall_ms() + skew_.load() + kHour);
    return *tokens_.issue(claims);
  }

  void seed_voicemail(int count) {
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      for (int i = 0; i < count; ++i) {
        domain::Voicemail voicemail;
        voicemail.set_id("vm-" + std::to_string(i));
        voicemail.set_caller_name("caller " + std::to_string(i));
        voicemail.set_received_ms(1'700'000'000'000 + i);
        OUTPOST_ASSIGN_OR_RETURN(
            uint64_t version, tx.put(user_scope("acme", "agent-1"), "voicemail", voicemail.id(), 0,
                                     voicemail.SerializeAsString()));
        (void)version;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(written.ok()) << written.to_string();
  }

  outpost_agent* open_agent(const std::string& file, const std::string& device = "device-1",
                            outpost_credentials_fn credentials = nullptr, void* user = nullptr) {
    std::string agent_token = token(device);
    std::string path = dir_.file(file);
    outpost_agent_options options;
    outpost_agent_options_init(&options);
    options.server_url = url_.data();
    options.server_url_len = url_.size();
    options.token = agent_token.data();
    options.token_len = agent_token.size();
    options.replica_path = path.data();
    options.replica_path_len = path.size();
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 200;
    options.on_credentials = credentials;
    options.on_credentials_user_data = user;
    outpost_agent* agent = nullptr;
    Err error;
    EXPECT_EQ(outpost_agent_open(&options, &agent, &error), OUTPOST_OK) << error.message();
    if (agent != nullptr) agents_.push_back(agent);
    return agent;
  }

  outpost_replica* open_replica(const std::string& file) {
    std::string path = dir_.file(file);
    outpost_replica_options options;
    outpost_replica_options_init(&options);
    options.tenant = "acme";
    options.tenant_len = 4;
    options.user = "agent-1";
    options.user_len = 7;
    outpost_replica* replica = nullptr;
    Err error;
    EXPECT_EQ(outpost_replica_open(path.data(), path.size(), &options, &replica, &error),
              OUTPOST_OK)
        << error.message();
    return replica;
  }

  bool server_has_draft(const std::string& id) {
    auto record = store_->get(user_scope("acme", "agent-1"), "draft", id);
    return record.ok() && record->has_value();
  }

  testing::TempDir dir_;
  std::atomic<int64_t> skew_{0};
  TokenAuthority tokens_{kKey};
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<SyncServer> server_;
  std::string url_;
  std::vector<outpost_agent*> agents_;
};

TEST_F(CApiTest, VersionMatchesTheHeader) {
  EXPECT_EQ(outpost_abi_version(), static_cast<uint32_t>(OUTPOST_ABI_VERSION));
  EXPECT_STREQ(outpost_version(), OUTPOST_VERSION_STRING);
  EXPECT_STREQ(outpost_status_name(OUTPOST_NOT_FOUND), "not_found");
  EXPECT_STREQ(outpost_agent_state_name(OUTPOST_AGENT_BACKOFF), "backoff");
}

TEST_F(CApiTest, ErrorsAreValuesWithTheRegistryCodeAndAMessage) {
  outpost_replica* replica = open_replica("device.db");
  ASSERT_NE(replica, nullptr);
  Err unknown;
  EXPECT_EQ(mutate(replica, "no_such_mutator", "{}", nullptr, &unknown), OUTPOST_NOT_FOUND);
  EXPECT_NE(unknown.message().find("no_such_mutator"), std::string::npos) << unknown.message();
  EXPECT_EQ(unknown.error.message_len, unknown.message().size());
  EXPECT_FALSE(unknown.error.retryable);

  Err bad_json;
  EXPECT_EQ(mutate(replica, "save_draft", "{not json", nullptr, &bad_json),
            OUTPOST_INVALID_ARGUMENT);
  Err null_handle;
  EXPECT_EQ(mutate(nullptr, "save_draft", "{}", nullptr, &null_handle), OUTPOST_INVALID_ARGUMENT);
  Err null_with_length;
  EXPECT_EQ(outpost_replica_mutate(replica, OUTPOST_FORMAT_JSON, nullptr, 4, "{}", 2, nullptr,
                                   &null_with_length),
            OUTPOST_INVALID_ARGUMENT);
  // A NULL error pointer is allowed: the status alone says it failed.
  EXPECT_EQ(mutate(replica, "no_such_mutator", "{}"), OUTPOST_NOT_FOUND);
  Err bad_spec;
  outpost_bytes out{};
  EXPECT_EQ(outpost_replica_query(replica, OUTPOST_FORMAT_JSON, "{\"colection\":\"draft\"}", 21,
                                  &out, &bad_spec),
            OUTPOST_INVALID_ARGUMENT);
  EXPECT_EQ(out.data, nullptr);
  uint64_t pending = 99;
  ASSERT_EQ(outpost_replica_pending_count(replica, &pending, nullptr), OUTPOST_OK);
  EXPECT_EQ(pending, 0u);  // nothing failed half-way
  EXPECT_EQ(outpost_replica_close(replica, nullptr), OUTPOST_OK);
}

TEST_F(CApiTest, RecordsInJsonAndProtobufQueryAndSqlCursor) {
  outpost_replica* replica = open_replica("device.db");
  uint64_t id = 0;
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d1", "body": "Dear Ann"}})", &id),
            OUTPOST_OK);
  EXPECT_GT(id, 0u);
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d2", "body": "Dear Bo"}})"),
            OUTPOST_OK);
  EXPECT_NE(get_json(replica, "draft", "d1").find("\"body\":\"Dear Ann\""), std::string::npos);
  EXPECT_EQ(get_json(replica, "draft", "missing"), "");

  outpost_bytes proto{};
  bool found = false;
  ASSERT_EQ(outpost_replica_get(replica, OUTPOST_FORMAT_PROTO, "draft", 5, "d2", 2, &proto, &found,
                                nullptr),
            OUTPOST_OK);
  domain::Draft draft;
  ASSERT_TRUE(draft.ParseFromArray(proto.data, static_cast<int>(proto.len)));
  outpost_bytes_free(&proto);
  EXPECT_EQ(draft.body(), "Dear Bo");

  std::string spec = R"({"collection": "draft", "order_by": "id", "descending": true})";
  outpost_bytes rows{};
  ASSERT_EQ(
      outpost_replica_query(replica, OUTPOST_FORMAT_JSON, spec.data(), spec.size(), &rows, nullptr),
      OUTPOST_OK);
  std::string json = take(rows);
  EXPECT_LT(json.find("\"d2\""), json.find("\"d1\"")) << json;
  ASSERT_EQ(outpost_replica_query(replica, OUTPOST_FORMAT_PROTO, spec.data(), spec.size(), &rows,
                                  nullptr),
            OUTPOST_OK);
  ASSERT_GT(rows.len, 1u);
  size_t first = static_cast<unsigned char>(rows.data[0]);  // a one-byte varint length
  ASSERT_LT(first, 128u);
  domain::Draft newest;
  ASSERT_TRUE(newest.ParseFromArray(rows.data + 1, static_cast<int>(first)));
  EXPECT_EQ(newest.id(), "d2");
  outpost_bytes_free(&rows);

  std::string sql = "SELECT id, body, _version FROM c_draft WHERE id = ?1";
  std::string params = R"(["d1"])";
  outpost_cursor* cursor = nullptr;
  ASSERT_EQ(outpost_replica_sql(replica, sql.data(), sql.size(), params.data(), params.size(),
                                &cursor, nullptr),
            OUTPOST_OK);
  ASSERT_EQ(outpost_cursor_column_count(cursor), 3u);
  size_t len = 0;
  EXPECT_STREQ(outpost_cursor_column_name(cursor, 1, &len), "body");
  bool has_row = false;
  ASSERT_EQ(outpost_cursor_step(cursor, &has_row, nullptr), OUTPOST_OK);
  ASSERT_TRUE(has_row);
  EXPECT_EQ(outpost_cursor_type(cursor, 1), OUTPOST_VALUE_TEXT);
  const char* text = outpost_cursor_text(cursor, 1, &len);
  EXPECT_EQ(std::string(text, len), "Dear Ann");
  EXPECT_EQ(outpost_cursor_type(cursor, 2), OUTPOST_VALUE_INTEGER);
  EXPECT_EQ(outpost_cursor_type(cursor, 7), OUTPOST_VALUE_NULL);  // out of range
  ASSERT_EQ(outpost_cursor_step(cursor, &has_row, nullptr), OUTPOST_OK);
  EXPECT_FALSE(has_row);
  outpost_cursor_close(cursor);

  std::string write = "DELETE FROM c_draft";
  Err refused;
  EXPECT_EQ(outpost_replica_sql(replica, write.data(), write.size(), nullptr, 0, &cursor, &refused),
            OUTPOST_READ_ONLY)
      << refused.message();
  EXPECT_EQ(outpost_replica_close(replica, nullptr), OUTPOST_OK);
}

struct Heard {
  std::mutex mutex;
  std::vector<std::string> changes;
  std::vector<std::thread::id> threads;
  outpost_replica* replica = nullptr;
  std::string read_inside;  // what the callback read back through the API
  uint64_t subscription = 0;
  bool unsubscribe_inside = false;
  std::atomic<int> signals{0};
};

void on_changes(void* user, const char* json, size_t len) {
  auto* heard = static_cast<Heard*>(user);
  std::string read = get_json(heard->replica, "draft", "d1");  // calls back in
  if (heard->unsubscribe_inside) {
    EXPECT_EQ(outpost_replica_unsubscribe(heard->replica, heard->subscription, nullptr),
              OUTPOST_OK);
  }
  std::lock_guard lock(heard->mutex);
  heard->changes.emplace_back(json, len);
  heard->threads.push_back(std::this_thread::get_id());
  heard->read_inside = read;
}

void on_signal(void* user) {
  static_cast<Heard*>(user)->signals++;
}

TEST_F(CApiTest, CallbacksMayCallBackInAndPendingChangesDrainMerged) {
  outpost_replica* replica = open_replica("device.db");
  Heard heard;
  heard.replica = replica;
  ASSERT_EQ(outpost_replica_subscribe(replica, on_changes, &heard, &heard.subscription, nullptr),
            OUTPOST_OK);
  Heard pending;
  uint64_t pending_id = 0;
  ASSERT_EQ(outpost_replica_subscribe_pending(replica, on_signal, &pending, &pending_id, nullptr),
            OUTPOST_OK);

  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d1", "body": "one"}})"), OUTPOST_OK);
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d2", "body": "two"}})"), OUTPOST_OK);
  {
    std::lock_guard lock(heard.mutex);
    ASSERT_EQ(heard.changes.size(), 2u);  // delivered before mutate returned
    EXPECT_NE(heard.changes[0].find("\"draft\":[\"d1\"]"), std::string::npos) << heard.changes[0];
    EXPECT_NE(heard.changes[0].find("\"outbox_changed\":true"), std::string::npos);
    EXPECT_EQ(heard.threads[0], std::this_thread::get_id());
    EXPECT_NE(heard.read_inside.find("\"one\""), std::string::npos);
  }
  EXPECT_EQ(pending.signals.load(), 1);  // once, until drained
  outpost_bytes drained{};
  bool had = false;
  ASSERT_EQ(outpost_replica_drain_changes(replica, pending_id, &drained, &had, nullptr),
            OUTPOST_OK);
  ASSERT_TRUE(had);
  std::string merged = take(drained);
  EXPECT_NE(merged.find("[\"d1\",\"d2\"]"), std::string::npos) << merged;
  ASSERT_EQ(outpost_replica_drain_changes(replica, pending_id, &drained, &had, nullptr),
            OUTPOST_OK);
  EXPECT_FALSE(had);

  heard.unsubscribe_inside = true;  // the next callback unsubscribes itself
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d3", "body": "x"}})"), OUTPOST_OK);
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d4", "body": "y"}})"), OUTPOST_OK);
  EXPECT_EQ(heard.changes.size(), 3u);
  EXPECT_EQ(pending.signals.load(), 2);
  EXPECT_EQ(outpost_replica_unsubscribe(replica, heard.subscription, nullptr), OUTPOST_NOT_FOUND);
  EXPECT_EQ(outpost_replica_unsubscribe(replica, pending_id, nullptr), OUTPOST_OK);
  EXPECT_EQ(outpost_replica_close(replica, nullptr), OUTPOST_OK);
}

struct AgentHeard : Heard {
  outpost_agent* agent = nullptr;
  std::atomic<outpost_status> stop_inside{OUTPOST_OK};
};

void on_agent_changes(void* user, const char* json, size_t len) {
  auto* heard = static_cast<AgentHeard*>(user);
  heard->stop_inside = outpost_agent_stop(heard->agent, nullptr);  // refused in a callback
  on_changes(user, json, len);
}

TEST_F(CApiTest, AgentSyncsAndNotifiesOnItsOwnThread) {
  seed_voicemail(5);
  outpost_agent* agent = open_agent("device.db");
  ASSERT_NE(agent, nullptr);
  outpost_replica* replica = outpost_agent_replica(agent);
  EXPECT_EQ(outpost_replica_close(replica, nullptr), OUTPOST_FAILED_PRECONDITION);
  AgentHeard heard;
  heard.replica = replica;
  heard.agent = agent;
  ASSERT_EQ(outpost_replica_subscribe(replica, on_agent_changes, &heard, nullptr, nullptr),
            OUTPOST_OK);

  outpost_sync_summary summary{};
  Err error;
  ASSERT_EQ(outpost_agent_sync_for(agent, 10'000, 0, &summary, &error), OUTPOST_OK)
      << error.message();
  EXPECT_TRUE(summary.caught_up);
  EXPECT_EQ(summary.changes_received, 5u);
  std::string spec = R"({"collection": "voicemail", "where": [{"column": "read", "op": "=",
                        "value": false}], "limit": 3})";
  outpost_bytes rows{};
  ASSERT_EQ(
      outpost_replica_query(replica, OUTPOST_FORMAT_JSON, spec.data(), spec.size(), &rows, nullptr),
      OUTPOST_OK);
  std::string json = take(rows);
  EXPECT_NE(json.find("\"vm-4\""), std::string::npos) << json;  // newest first (default order)
  EXPECT_EQ(json.find("\"vm-1\""), std::string::npos) << json;

  {
    std::lock_guard lock(heard.mutex);
    ASSERT_FALSE(heard.threads.empty());
    EXPECT_NE(heard.threads[0], std::this_thread::get_id());  // the agent's loop thread
    heard.changes.clear();
    heard.threads.clear();
  }
  EXPECT_EQ(heard.stop_inside.load(), OUTPOST_FAILED_PRECONDITION);

  ASSERT_EQ(outpost_agent_start(agent, nullptr), OUTPOST_OK);
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "d1", "body": "from the app"}})"),
            OUTPOST_OK);
  EXPECT_TRUE(eventually([&] { return server_has_draft("d1"); }));
  outpost_agent_state state = OUTPOST_AGENT_STOPPED;
  ASSERT_EQ(outpost_agent_state_get(agent, &state, nullptr, nullptr), OUTPOST_OK);
  EXPECT_EQ(state, OUTPOST_AGENT_CONNECTED);
  ASSERT_EQ(outpost_agent_wake(agent, "push", 4, nullptr), OUTPOST_OK);
  {
    std::lock_guard lock(heard.mutex);
    ASSERT_FALSE(heard.threads.empty());
    EXPECT_NE(heard.threads[0], std::this_thread::get_id());
    EXPECT_NE(heard.read_inside.find("from the app"), std::string::npos);  // read on the loop
  }
  ASSERT_EQ(outpost_agent_stop(agent, nullptr), OUTPOST_OK);
  ASSERT_EQ(outpost_agent_state_get(agent, &state, nullptr, nullptr), OUTPOST_OK);
  EXPECT_EQ(state, OUTPOST_AGENT_STOPPED);
}

struct Login {
  CApiTest* test = nullptr;
  std::function<std::string()> mint;
  std::atomic<int> asked{0};
  std::atomic<outpost_status> code{OUTPOST_OK};
};

void on_credentials(void* user, outpost_agent* agent, const outpost_error* why) {
  auto* login = static_cast<Login*>(user);
  login->asked++;
  login->code = why->code;
  std::string fresh = login->mint();
  EXPECT_EQ(outpost_agent_set_token(agent, fresh.data(), fresh.size(), nullptr), OUTPOST_OK);
}

TEST_F(CApiTest, ExpiredTokenIsRefreshedThroughTheCredentialsCallback) {
  Login login;
  login.mint = [this] { return token(); };
  outpost_agent* agent = open_agent("device.db", "device-1", on_credentials, &login);
  ASSERT_EQ(outpost_agent_sync_for(agent, 10'000, 0, nullptr, nullptr), OUTPOST_OK);
  skew_ += 2 * kHour;  // the server now sees the first token as expired
  outpost_replica* replica = outpost_agent_replica(agent);
  ASSERT_EQ(mutate(replica, "save_draft", R"({"draft": {"id": "late", "body": "kept"}})"),
            OUTPOST_OK);
  outpost_sync_summary summary{};
  Err error;
  ASSERT_EQ(outpost_agent_sync_for(agent, 10'000, 0, &summary, &error), OUTPOST_OK)
      << error.message();
  EXPECT_EQ(login.asked.load(), 1);
  EXPECT_EQ(login.code.load(), OUTPOST_UNAUTHENTICATED);
  EXPECT_TRUE(server_has_draft("late"));
  EXPECT_EQ(summary.progress.pending_mutations, 0u);
}

TEST_F(CApiTest, RejectedMutationIsListedRetriedWithEditedArgsAndDiscarded) {
  outpost_agent* phone = open_agent("phone.db", "phone");
  outpost_agent* tablet = open_agent("tablet.db", "tablet");
  outpost_replica* on_phone = outpost_agent_replica(phone);
  outpost_replica* on_tablet = outpost_agent_replica(tablet);
  ASSERT_EQ(mutate(on_phone, "save_draft", R"({"draft": {"id": "d1", "body": "Dear Ann"}})"),
            OUTPOST_OK);
  ASSERT_EQ(outpost_agent_sync_for(phone, 10'000, 0, nullptr, nullptr), OUTPOST_OK);
  ASSERT_EQ(outpost_agent_sync_for(tablet, 10'000, 0, nullptr, nullptr), OUTPOST_OK);
  // The tablet deletes the draft offline while the phone edits it: the delete is refused.
  ASSERT_EQ(mutate(on_tablet, "delete_draft", R"({"id": "d1"})"), OUTPOST_OK);
  ASSERT_EQ(mutate(on_phone, "save_draft", R"({"draft": {"id": "d1", "body": "Dear Ann, hi"}})"),
            OUTPOST_OK);
  ASSERT_EQ(outpost_agent_sync_for(phone, 10'000, 0, nullptr, nullptr), OUTPOST_OK);
  ASSERT_EQ(outpost_agent_sync_for(tablet, 10'000, 0, nullptr, nullptr), OUTPOST_OK);

  outpost_bytes listed{};
  ASSERT_EQ(outpost_replica_rejected(on_tablet, &listed, nullptr), OUTPOST_OK);
  std::string rejected = take(listed);
  EXPECT_NE(rejected.find("\"name\":\"delete_draft\""), std::string::npos) << rejected;
  EXPECT_NE(rejected.find("edited elsewhere"), std::string::npos) << rejected;
  auto at = rejected.find("\"id\":");
  ASSERT_NE(at, std::string::npos);
  uint64_t rejected_id = std::stoull(rejected.substr(at + 5));
  EXPECT_NE(get_json(on_tablet, "draft", "d1").find("Dear Ann, hi"), std::string::npos);

  // Retried with edited args (no base: the draft the user now sees becomes the base).
  uint64_t retried = 0;
  std::string edited = R"({"id": "d1"})";
  Err error;
  ASSERT_EQ(outpost_replica_retry_rejected(on_tablet, rejected_id, OUTPOST_FORMAT_JSON,
                                           edited.data(), edited.size(), &retried, &error),
            OUTPOST_OK)
      << error.message();
  EXPECT_GT(retried, rejected_id);
  ASSERT_EQ(outpost_agent_sync_for(tablet, 10'000, 0, nullptr, nullptr), OUTPOST_OK);
  EXPECT_FALSE(server_has_draft("d1"));
  ASSERT_EQ(outpost_replica_rejected(on_tablet, &listed, nullptr), OUTPOST_OK);
  EXPECT_EQ(take(listed), "[]");
  EXPECT_EQ(outpost_replica_discard_rejected(on_tablet, rejected_id, nullptr), OUTPOST_NOT_FOUND);
}

// The agent over https/wss (decision 022), against the same core served with TLS: the
// app's CA file and a pinned certificate are trusted; the system store does not know the
// test CA, so that agent fails "untrusted" and sends nothing; TLS options with a plain
// http:// server or an unreadable CA file are refused at open, never ignored.
TEST_F(CApiTest, TheAgentSpeaksTlsTrustingTheAppsCaOrAPinnedCertificate) {
  seed_voicemail(3);
  support::TestCa ca = support::TestCa::create();
  support::CertificatePem pem = ca.issue();
  ASSERT_TRUE(support::write_text_file(dir_.file("ca.pem"), ca.certificate_pem()));
  ASSERT_TRUE(support::write_text_file(dir_.file("server.pem"), pem.certificate));
  ASSERT_TRUE(support::write_text_file(dir_.file("server.key"), pem.key));
  auto tls = TlsServerContext::load(dir_.file("server.pem"), dir_.file("server.key"));
  ASSERT_TRUE(tls.ok()) << tls.status().to_string();
  SyncServerOptions server_options;
  server_options.shutdown_grace_ms = 1000;
  server_options.tls = *tls;
  SyncServer tls_server(*core_, tokens_, server_options);
  ASSERT_TRUE(tls_server.start().ok());
  const std::string https = "https://127.0.0.1:" + std::to_string(tls_server.port());
  const std::string ca_path = dir_.file("ca.pem");

  struct Trust {
    std::string url, ca_path, pinned_pem;
  };
  auto open_with = [&](const std::string& file, const Trust& trust, outpost_agent** agent,
                       Err& error) {
    std::string agent_token = token(file);
    std::string path = dir_.file(file);
    outpost_agent_options options;
    outpost_agent_options_init(&options);
    options.server_url = trust.url.data();
    options.server_url_len = trust.url.size();
    options.token = agent_token.data();
    options.token_len = agent_token.size();
    options.replica_path = path.data();
    options.replica_path_len = path.size();
    options.tls_ca_path = trust.ca_path.data();
    options.tls_ca_path_len = trust.ca_path.size();
    options.tls_pinned_cert_pem = trust.pinned_pem.data();
    options.tls_pinned_cert_pem_len = trust.pinned_pem.size();
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 200;
    outpost_status status = outpost_agent_open(&options, agent, &error);
    if (*agent != nullptr) agents_.push_back(*agent);
    return status;
  };
  auto sync = [](outpost_agent* agent, outpost_sync_summary& summary, Err& error) {
    return outpost_agent_sync_for(agent, 5'000, 0, &summary, &error);
  };

  for (const Trust& trusted : {Trust{https, ca_path, ""}, Trust{https, "", pem.certificate}}) {
    outpost_agent* agent = nullptr;
    Err error;
    ASSERT_EQ(open_with(trusted.ca_path.empty() ? "pinned.db" : "ca.db", trusted, &agent, error),
              OUTPOST_OK)
        << error.message();
    outpost_sync_summary summary{};
    ASSERT_EQ(sync(agent, summary, error), OUTPOST_OK) << error.message();
    EXPECT_TRUE(summary.caught_up);
    EXPECT_EQ(summary.changes_received, 3u);
  }

  outpost_agent* system_store = nullptr;
  Err error;
  ASSERT_EQ(open_with("system.db", Trust{https, "", ""}, &system_store, error), OUTPOST_OK)
      << error.message();
  outpost_sync_summary summary{};
  EXPECT_EQ(sync(system_store, summary, error), OUTPOST_FAILED_PRECONDITION);
  EXPECT_NE(error.message().find("untrusted server"), std::string::npos) << error.message();
  EXPECT_EQ(summary.changes_received, 0u);

  outpost_agent* refused = nullptr;
  Err plain;
  EXPECT_EQ(open_with("plain.db", Trust{url_, ca_path, ""}, &refused, plain),
            OUTPOST_INVALID_ARGUMENT);
  EXPECT_EQ(refused, nullptr);
  EXPECT_NE(plain.message().find("http://"), std::string::npos) << plain.message();
  Err unreadable;
  EXPECT_EQ(
      open_with("unreadable.db", Trust{https, dir_.file("missing.pem"), ""}, &refused, unreadable),
      OUTPOST_INVALID_ARGUMENT);
  EXPECT_EQ(refused, nullptr);

  outpost_agent_options stale;
  outpost_agent_options_init(&stale);
  stale.struct_size = 8;  // a caller built against a different header
  EXPECT_EQ(outpost_agent_open(&stale, &refused, nullptr), OUTPOST_INVALID_ARGUMENT);
  tls_server.stop();
}

}  // namespace
}  // namespace outpost
