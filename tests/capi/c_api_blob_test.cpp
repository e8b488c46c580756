// The C API's blob functions (outpost_agent_voicemail_audio, outpost_agent_prefetch_voicemail)
// through the C functions only, against a real in-process server with a BlobService over a
// DirBlobStore on 127.0.0.1, plain and TLS (the agent's CA file is the blob download's trust
// too): a wake prefetches the audio and it plays with the server gone; a download reports
// progress, is cancelled by it and resumes; errors as values.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "adapters/dir_blob_store.h"
#include "adapters/sim_media.h"
#include "adapters/sqlite_server_store.h"
#include "engine/blob_service.h"
#include "engine/domain_mutators.h"
#include "engine/server_core.h"
#include "outpost/domain.pb.h"
#include "outpost/outpost.h"
#include "support/tls_certs.h"
#include "tests/capi/capi_test_support.h"
#include "tests/engine/test_support.h"
#include "transport/blob_cache.h"
#include "transport/sync_server.h"
#include "transport/tls_server.h"
#include "transport/token.h"

namespace outpost {
namespace {

using capi_testing::Err;
using capi_testing::take;
using capi_testing::wall_ms;

constexpr int64_t kHour = 3600'000;

// What the progress callback saw; `cancel_at_first` makes the first call cancel.
struct Progress {
  std::vector<uint64_t> done;
  std::thread::id thread;
  uint64_t total = 0;
  bool cancel_at_first = false;
};

bool on_progress(void* user_data, uint64_t done, uint64_t total) {
  auto* progress = static_cast<Progress*>(user_data);
  progress->done.push_back(done);
  progress->total = total;
  progress->thread = std::this_thread::get_id();
  return !(progress->cancel_at_first && progress->done.size() == 1);
}

class CApiBlobTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    store_ = SqliteServerStore::open(dir_.file("server.db")).value();
    core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
    blob_store_ = DirBlobStore::open(dir_.file("blobs")).value();
    BlobServiceOptions blob_options;
    blob_options.fetch_media = [](std::string_view uri, uint64_t max) {
      return fetch_sim_media(uri, max);
    };
    blobs_ = std::make_unique<BlobService>(*store_, *blob_store_, Schema::domain(), blob_options);
    SyncServerOptions options;
    options.shutdown_grace_ms = 1000;
    options.blobs = blobs_.get();
    if (GetParam()) {
      support::TestCa ca = support::TestCa::create();
      support::CertificatePem pem = ca.issue();
      ca_path_ = dir_.file("ca.pem");
      ASSERT_TRUE(support::write_text_file(ca_path_, ca.certificate_pem()));
      ASSERT_TRUE(support::write_text_file(dir_.file("server.pem"), pem.certificate));
      ASSERT_TRUE(support::write_text_file(dir_.file("server.key"), pem.key));
      options.tls =
          TlsServerContext::load(dir_.file("server.pem"), dir_.file("server.key")).value();
    }
    server_ = std::make_unique<SyncServer>(*core_, tokens_, options);
    ASSERT_TRUE(server_->start().ok());
    url_ = std::string(GetParam() ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    for (outpost_agent* agent : agents_) EXPECT_EQ(outpost_agent_close(agent, nullptr), OUTPOST_OK);
    server_->stop();
  }

  // A voicemail of agent-1's received `age_ms` ago with `seconds` of simulated audio.
  domain::Voicemail put_voicemail(const std::string& id, int seconds, int64_t age_ms = 0) {
    domain::Voicemail voicemail;
    voicemail.set_id(id);
    voicemail.set_caller_name("caller of " + id);
    voicemail.set_duration_s(seconds);
    voicemail.set_received_ms(wall_ms() - age_ms);
    attach_sim_audio(voicemail);
    Status written = core_->write([&](ServerWriteTx& tx) -> Status {
      return tx
          .put(user_scope("acme", "agent-1"), "voicemail", id, 0, voicemail.SerializeAsString())
          .status();
    });
    EXPECT_TRUE(written.ok()) << written.to_string();
    return voicemail;
  }

  outpost_agent* open_agent(const std::string& file) {
    protocol::TokenClaims claims;
    claims.set_tenant("acme");
    claims.set_user("agent-1");
    claims.set_device(file);
    claims.set_issued_ms(wall_ms());
    claims.set_expires_ms(wall_ms() + kHour);
    const std::string token = *tokens_.issue(claims);
    const std::string path = dir_.file(file);
    outpost_agent_options options;
    outpost_agent_options_init(&options);
    options.server_url = url_.data();
    options.server_url_len = url_.size();
    options.token = token.data();
    options.token_len = token.size();
    options.replica_path = path.data();
    options.replica_path_len = path.size();
    options.tls_ca_path = ca_path_.data();
    options.tls_ca_path_len = ca_path_.size();
    options.backoff_base_ms = 20;
    options.backoff_max_ms = 200;
    outpost_agent* agent = nullptr;
    Err error;
    EXPECT_EQ(outpost_agent_open(&options, &agent, &error), OUTPOST_OK) << error.message();
    if (agent != nullptr) agents_.push_back(agent);
    return agent;
  }

  void sync(outpost_agent* agent) {
    Err error;
    ASSERT_EQ(outpost_agent_sync_for(agent, 10'000, 0, nullptr, &error), OUTPOST_OK)
        << error.message();
  }

  outpost_status audio(outpost_agent* agent, const std::string& id, std::string& path,
                       Progress* progress, Err& error) {
    outpost_bytes out{};
    outpost_status status = outpost_agent_voicemail_audio(
        agent, id.data(), id.size(), progress ? on_progress : nullptr, progress, &out, &error);
    path = take(out);
    return status;
  }

  testing::TempDir dir_;
  TokenAuthority tokens_{std::string(32, 'k')};
  std::unique_ptr<SqliteServerStore> store_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<DirBlobStore> blob_store_;
  std::unique_ptr<BlobService> blobs_;
  std::unique_ptr<SyncServer> server_;
  std::string url_;
  std::string ca_path_;
  std::vector<outpost_agent*> agents_;
};

// The issue's story through the C API: a wake syncs and prefetches today's audio; with the
// server gone the app still gets a verified file for it, while audio the wake did not fetch
// (older than a day) is UNAVAILABLE, retryable.
TEST_P(CApiBlobTest, AWakePrefetchesTheAudioAndItPlaysOffline) {
  const domain::Voicemail fresh = put_voicemail("vm-new", 6);
  put_voicemail("vm-old", 4, 3 * 24 * kHour);
  outpost_agent* agent = open_agent("phone.db");
  ASSERT_NE(agent, nullptr);
  sync(agent);
  outpost_prefetch_summary summary{};
  Err error;
  ASSERT_EQ(outpost_agent_prefetch_voicemail(agent, 10'000, &summary, &error), OUTPOST_OK)
      << error.message();
  EXPECT_EQ(summary.fetched, 1u);
  EXPECT_EQ(summary.bytes, static_cast<uint64_t>(fresh.audio_size()));
  EXPECT_EQ(summary.failed, 0u);

  server_->stop();  // offline from here
  std::string path;
  Progress progress;
  Err offline;
  ASSERT_EQ(audio(agent, "vm-new", path, &progress, offline), OUTPOST_OK) << offline.message();
  EXPECT_EQ(hash_file(path).value().hex(), fresh.audio_sha256());
  EXPECT_TRUE(progress.done.empty());  // from the cache: nothing moved

  Err missing;
  EXPECT_EQ(audio(agent, "vm-old", path, nullptr, missing), OUTPOST_UNAVAILABLE);
  EXPECT_TRUE(missing.error.retryable);
  EXPECT_TRUE(path.empty());

  // A second prefetch finds it cached (and fails nothing it did not try).
  Err again;
  EXPECT_EQ(outpost_agent_prefetch_voicemail(agent, 1'000, &summary, &again), OUTPOST_OK)
      << again.message();
  EXPECT_EQ(summary.already_cached, 1u);
  EXPECT_EQ(summary.fetched, 0u);
}

// Played on demand: progress on the calling thread up to the blob's size. The audio is
// smaller than one piece (256 KiB), so a callback returning false comes after the last
// byte: nothing is left to cancel and the call succeeds. (Cancelling mid-download and
// resuming: BlobServerTest.ADownloadKilledHalfwayResumesFromItsPartial.)
TEST_P(CApiBlobTest, PlayingDownloadsWithProgressOnTheCallersThread) {
  const domain::Voicemail voicemail = put_voicemail("vm-1", 20);
  outpost_agent* agent = open_agent("phone.db");
  ASSERT_NE(agent, nullptr);
  sync(agent);

  std::string path;
  Progress progress;
  progress.cancel_at_first = true;
  Err error;
  ASSERT_EQ(audio(agent, "vm-1", path, &progress, error), OUTPOST_OK) << error.message();
  const uint64_t size = static_cast<uint64_t>(voicemail.audio_size());
  ASSERT_EQ(progress.done.size(), 1u);
  EXPECT_EQ(progress.done.back(), size);
  EXPECT_EQ(progress.total, size);
  EXPECT_EQ(progress.thread, std::this_thread::get_id());
  EXPECT_EQ(hash_file(path).value().hex(), voicemail.audio_sha256());
}

TEST_P(CApiBlobTest, ErrorsAreValues) {
  put_voicemail("vm-1", 2);
  outpost_agent* agent = open_agent("phone.db");
  ASSERT_NE(agent, nullptr);
  sync(agent);
  std::string path;
  Err unknown;
  EXPECT_EQ(audio(agent, "vm-none", path, nullptr, unknown), OUTPOST_NOT_FOUND);
  EXPECT_NE(unknown.message().find("vm-none"), std::string::npos) << unknown.message();
  outpost_bytes out{};
  Err null_agent;
  EXPECT_EQ(outpost_agent_voicemail_audio(nullptr, "vm-1", 4, nullptr, nullptr, &out, &null_agent),
            OUTPOST_INVALID_ARGUMENT);
  Err null_path;
  EXPECT_EQ(outpost_agent_voicemail_audio(agent, "vm-1", 4, nullptr, nullptr, nullptr, &null_path),
            OUTPOST_INVALID_ARGUMENT);
  Err null_prefetch;
  EXPECT_EQ(outpost_agent_prefetch_voicemail(nullptr, 10, nullptr, &null_prefetch),
            OUTPOST_INVALID_ARGUMENT);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, CApiBlobTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Tls" : "Plain"; });

}  // namespace
}  // namespace outpost
