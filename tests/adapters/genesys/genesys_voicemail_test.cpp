// GenesysUpstream's voicemail against the fake Genesys Cloud: the recording downloaded through
// the media endpoint's short-lived link and hashed when the voicemail is mirrored (decision
// 034) — by the core since decision 064 — fetched again for the blob service, not downloaded
// when the store already names it; expired links, slow and dropped downloads; the device's
// read and delete written back, with the
// platform's refusal.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "adapters/genesys/genesys_upstream.h"
#include "engine/blob.h"
#include "tests/adapters/genesys/fake_genesys_options.h"

namespace outpost::genesys {
namespace {

namespace d = outpost::domain;
using namespace std::chrono_literals;

class GenesysVoicemailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_unique<testing::FakeGenesys>("agent-1,agent-2", 0);
    ASSERT_TRUE(fake_->ok()) << fake_->log();
  }
  void TearDown() override {
    if (upstream_) upstream_->stop();
  }

  void start(std::function<bool(const std::string&, const std::string&)> stored = {}) {
    GenesysOptions o = testing::options_against(*fake_);
    o.users = {"agent-1", "agent-2"};
    o.intent_wait = 5s;
    o.mirror_contacts = false;
    o.audio_stored = std::move(stored);
    o.media_fetched = [this](const BlobHash& hash, const std::string& bytes) {
      std::lock_guard lock(mutex_);
      fetched_[hash.hex()] = bytes;
    };
    upstream_ = std::make_unique<GenesysUpstream>(std::move(o));
    upstream_->start();
    ASSERT_TRUE(upstream_->wait_mirrored(30s));
  }

  // Polls until the voicemail `id` is mirrored; its latest record.
  std::optional<d::Voicemail> voicemail(const std::string& id) {
    for (auto until = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
      auto events = upstream_->poll(0);
      if (!events.ok()) continue;
      for (const auto& e : *events) {
        if (e.has_voicemail_left() && e.voicemail_left().id() == id) return e.voicemail_left();
        if (e.has_voicemail_updated() && e.voicemail_updated().id() == id) {
          return e.voicemail_updated();
        }
      }
    }
    return std::nullopt;
  }

  std::string leave(const std::string& user, int seconds) {
    auto v = fake_->control(
        "voicemail", R"({"user":")" + user + R"(","seconds":)" + std::to_string(seconds) + "}");
    return std::string(v.as_object().at("id").as_string());
  }

  template <typename Call>
  Result<PlatformAnswer> answer(Call call) {
    for (int i = 0; i < 40; ++i) {
      auto got = call();
      if (got.ok() || got.status().code() != ErrorCode::kUnavailable) return got;
      std::this_thread::sleep_for(100ms);
    }
    return error(ErrorCode::kUnavailable, "no answer");
  }

  boost::json::object fake_voicemail(const std::string& id) {
    return fake_->state().as_object().at("voicemails").as_object().at(id).as_object();
  }

  std::unique_ptr<testing::FakeGenesys> fake_;
  std::unique_ptr<GenesysUpstream> upstream_;
  std::mutex mutex_;
  std::map<std::string, std::string> fetched_;  // hash -> bytes handed to the blob store
};

TEST_F(GenesysVoicemailTest, RecordingsAreHashedWhenMirroredAndFetchedAgainForTheBlobService) {
  const std::string before = leave("agent-1", 2);  // found by the first mirror
  start();
  auto first = voicemail(before);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->audio_uri(), "genesys-media:voicemail/" + before);
  EXPECT_EQ(first->audio_size(), 44 + 2 * 8000);  // the fake's WAV: 8 kHz, 8-bit, 2 s
  {
    std::lock_guard lock(mutex_);
    ASSERT_EQ(fetched_.count(first->audio_sha256()), 1u);
    EXPECT_EQ(sha256_of(fetched_[first->audio_sha256()]).hex(), first->audio_sha256());
  }
  // Left while mirrored (the notification), the download dropped once mid-body: retried.
  fake_->control("faults", R"({"method":"GET","path":"/media/","truncate":100})");
  const std::string live = leave("agent-2", 3);
  auto second = voicemail(live);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->audio_size(), 44 + 3 * 8000);
  // The blob service's fetch: a fresh link, the same bytes.
  auto bytes = upstream_->fetch_media(second->audio_uri(), 1 << 20);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(sha256_of(*bytes).hex(), second->audio_sha256());
  EXPECT_EQ(upstream_->fetch_media(second->audio_uri(), 1000).status().code(),
            ErrorCode::kTooLarge);
  EXPECT_EQ(upstream_->fetch_media("genesys-media:voicemail/nope", 1 << 20).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(upstream_->fetch_media("sim-media:voicemail/x", 1 << 20).status().code(),
            ErrorCode::kNotFound);
  // (A bearer sent with the link would have been refused with 400: no audio above.)
}

TEST_F(GenesysVoicemailTest, ExpiredLinksLeaveTheVoicemailWithoutAudioAndStoredOnesAreNotFetched) {
  fake_->control("config", R"({"media_url_ttl_s": 0})");  // every link expired at once
  const std::string early = leave("agent-1", 1);
  start([&](const std::string&, const std::string& id) { return id == "known"; });
  auto got = voicemail(early);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->audio_sha256().empty());  // mirrored anyway; the next reconcile retries
  // Tried three times after retry_after_failure (decision 064), two links each (the second
  // after the first expired), then left to the next reconcile.
  for (auto until = std::chrono::steady_clock::now() + 10s;
       upstream_->counters().audio_failures < 3 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(600ms);  // no fourth attempt comes
  EXPECT_EQ(upstream_->counters().audio_failures, 3u);
  EXPECT_EQ(fake_->count_requests("GET", "/api/v2/voicemail/messages/" + early + "/media"), 6);

  // A voicemail the store already names is not downloaded again (a restarted server).
  fake_->control("config", R"({"media_url_ttl_s": 60})");
  fake_->control("voicemail", R"({"user":"agent-1","id":"known","seconds":1})");
  ASSERT_TRUE(voicemail("known").has_value());
  EXPECT_EQ(fake_->count_requests("GET", "/api/v2/voicemail/messages/known/media"), 0);
}

TEST_F(GenesysVoicemailTest, ReadAndDeleteAreWrittenBackAndRefusalsKeptWithTheirReason) {
  const std::string id = leave("agent-1", 1);
  start();
  const AgentRef a{"acme", "agent-1"};
  auto read = answer([&] { return upstream_->mark_voicemail_read(a, id, 0); });
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_TRUE(read->accepted);
  EXPECT_TRUE(fake_voicemail(id).at("read").as_bool());

  // The platform refuses (permissions): the refusal carries the platform's message.
  fake_->control("faults", R"({"method":"DELETE","path":"/api/v2/voicemail/messages/",)"
                           R"("status":403,"code":"missing.permissions",)"
                           R"("message":"You may not delete this voicemail"})");
  auto refused = answer([&] { return upstream_->delete_voicemail(a, id, 0); });
  ASSERT_TRUE(refused.ok()) << refused.status().to_string();
  EXPECT_FALSE(refused->accepted);
  EXPECT_EQ(refused->reason, "You may not delete this voicemail");
  EXPECT_FALSE(fake_voicemail(id).at("deleted").as_bool());

  auto deleted = answer([&] { return upstream_->delete_voicemail(a, id, 0); });
  ASSERT_TRUE(deleted.ok() && deleted->accepted);
  EXPECT_TRUE(fake_voicemail(id).at("deleted").as_bool());
  // Already gone on the platform (deleted elsewhere): what the device asked holds.
  auto again = answer([&] { return upstream_->delete_voicemail(a, id, 0); });
  ASSERT_TRUE(again.ok() && again->accepted);
  // Another org's agent is refused without a call.
  auto stranger = upstream_->mark_voicemail_read(AgentRef{"acme", "nobody"}, id, 0);
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(stranger->accepted);
}

}  // namespace
}  // namespace outpost::genesys
