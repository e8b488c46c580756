// Voicemail recordings on the core (decisions 034, 064) against outpost-sim's model of
// Genesys Cloud through the shared driver: a voicemail's event waits for its recording and
// names the hash of the platform's bytes; the link from the media endpoint is downloaded as
// a download request (no bearer: the driver's RestClient::download), bounded in bytes; an
// expired link gets one new link; a timed-out download is retried; a failed one emits the
// voicemail without audio and forgets it (the next reconcile sends it again), tried again a
// few times; a known recording is not downloaded again; the store's port skips it.
#include <gtest/gtest.h>

#include <cstdio>

#include "adapters/genesys/genesys_core.h"
#include "apps/outpost-sim/genesys_model.h"
#include "engine/blob.h"
#include "tests/adapters/genesys/core_test_driver.h"

namespace outpost::genesys {
namespace {

constexpr int64_t kStart = 1'795'000'000'000;
constexpr char kMedia[] = "GET /api/v2/voicemail/messages/%s/media";

CoreOptions recording_options() {
  CoreOptions o;
  o.tenant = "acme";
  o.users = {"agent-1"};
  o.request_timeout_ms = 1'000;
  o.backoff_ms = {100, 300};
  o.retry_after_failure_ms = 200;
  o.mirror_contacts = false;
  o.max_voicemail_bytes = 1'000'000;
  return o;
}

class GenesysCoreRecordingsTest : public ::testing::Test {
 protected:
  explicit GenesysCoreRecordingsTest(CoreOptions o = recording_options())
      : model_({"agent-1"}, kStart), core_(std::move(o)) {}

  static bool is_download(const CoreRequest& r) { return r.kind == CoreRequest::Kind::kDownload; }
  static CoreAnswer status(long code, const std::string& body = "") {
    CoreAnswer a;
    a.status = code;
    a.body = body;
    return a;
  }
  // The last voicemail event of `id`.
  const domain::Voicemail* last(const std::string& id) const {
    const domain::Voicemail* found = nullptr;
    for (const auto& e : driver_.events) {
      if (e.has_voicemail_left() && e.voicemail_left().id() == id) found = &e.voicemail_left();
      if (e.has_voicemail_updated() && e.voicemail_updated().id() == id) {
        found = &e.voicemail_updated();
      }
    }
    return found;
  }
  size_t media_requests(const std::string& id) const {
    char line[200];
    std::snprintf(line, sizeof line, kMedia, id.c_str());
    return driver_.count(line);
  }
  static std::string platform_hash(const std::string& id) {
    return sha256_of(sim::GenesysModel::voicemail_audio(id)).hex();
  }

  sim::GenesysModel model_;
  GenesysCore core_;
  int64_t now_ = kStart;
  CoreTestDriver driver_{model_, core_, now_};
};

TEST_F(GenesysCoreRecordingsTest, AVoicemailNamesTheHashOfThePlatformsRecording) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  std::vector<CoreRequest> downloads;
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_download(r)) downloads.push_back(r);
    return std::nullopt;
  });
  EXPECT_TRUE(core_.mirrored());
  const domain::Voicemail* vm = last(id);
  ASSERT_NE(vm, nullptr);
  const std::string bytes = sim::GenesysModel::voicemail_audio(id);
  EXPECT_EQ(vm->audio_sha256(), platform_hash(id));
  EXPECT_EQ(vm->audio_size(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(vm->audio_uri(), "genesys-media:voicemail/" + id);
  // One link, one download: to the media host, no user's login, bounded.
  EXPECT_EQ(media_requests(id), 1u);
  ASSERT_EQ(downloads.size(), 1u);
  EXPECT_EQ(downloads[0].target.rfind(sim::GenesysModel::kMediaHost, 0), 0u);
  EXPECT_TRUE(downloads[0].user.empty());
  EXPECT_EQ(downloads[0].max_bytes, 1'000'000u);
  // The bytes are handed out for the blob store, under their hash.
  ASSERT_EQ(driver_.media.size(), 1u);
  EXPECT_EQ(driver_.media[0].sha256_hex, platform_hash(id));
  EXPECT_EQ(driver_.media[0].bytes, bytes);
  EXPECT_EQ(core_.counters().audio_fetched, 1u);
  // Only the event with its recording is emitted.
  for (const auto& e : driver_.events) {
    if (e.has_voicemail_left()) {
      EXPECT_FALSE(e.voicemail_left().audio_sha256().empty());
    }
  }

  // Read on the platform: the update names the same recording, downloaded once only.
  ASSERT_EQ(
      model_.handle("PATCH", "/api/v2/voicemail/messages/" + id, R"({"read":true})", now_).status,
      200);
  driver_.run();
  vm = last(id);
  ASSERT_NE(vm, nullptr);
  EXPECT_TRUE(vm->read());
  EXPECT_EQ(vm->audio_sha256(), platform_hash(id));
  EXPECT_EQ(media_requests(id), 1u);
}

TEST_F(GenesysCoreRecordingsTest, AnExpiredLinkGetsOneNewLink) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  int downloads = 0;
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_download(r) && downloads++ == 0) {
      return status(403, "AccessDenied: Request has expired");
    }
    return std::nullopt;
  });
  EXPECT_EQ(media_requests(id), 2u);
  EXPECT_EQ(downloads, 2);
  ASSERT_NE(last(id), nullptr);
  EXPECT_EQ(last(id)->audio_sha256(), platform_hash(id));
  EXPECT_EQ(core_.counters().audio_failures, 0u);
}

TEST_F(GenesysCoreRecordingsTest, TheModelsLinkExpiresAndAnUnknownOneIsNotFound) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  model_.set_media_link_ttl_ms(1'000);
  auto media =
      model_.handle("GET", "/api/v2/voicemail/messages/" + id + "/media?formatId=WAV", "", now_);
  ASSERT_EQ(media.status, 200);
  auto uri = decode_media_uri(media.body);
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(model_.handle("GET", *uri, "", now_).status, 200);
  EXPECT_EQ(model_.handle("GET", *uri, "", now_ + 1'000).status, 403);
  EXPECT_EQ(
      model_.handle("GET", std::string(sim::GenesysModel::kMediaHost) + "link-99.wav", "", now_)
          .status,
      404);
  EXPECT_EQ(
      model_.handle("GET", "/api/v2/voicemail/messages/gc-vm-none/media?formatId=WAV", "", now_)
          .status,
      404);
}

TEST_F(GenesysCoreRecordingsTest, ATimedOutDownloadIsRetried) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  int downloads = 0;
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_download(r) && downloads++ == 0) {
      CoreAnswer a;
      a.transport_error = true;  // as the core's timeout of a slow download would
      return a;
    }
    return std::nullopt;
  });
  EXPECT_EQ(downloads, 2);
  EXPECT_EQ(media_requests(id), 1u) << "the same link, retried";
  ASSERT_NE(last(id), nullptr);
  EXPECT_EQ(last(id)->audio_sha256(), platform_hash(id));
}

TEST_F(GenesysCoreRecordingsTest, AFailedRecordingIsSentWithoutAudioAndAgainByTheNextReconcile) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  bool missing = true;
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_download(r) && missing) return status(404, "NoSuchKey");
    return std::nullopt;
  });
  // Mirrored without audio; tried three times (the sighting's attempts), then left to the
  // next reconcile.
  ASSERT_NE(last(id), nullptr);
  EXPECT_TRUE(last(id)->audio_sha256().empty());
  EXPECT_EQ(core_.counters().audio_failures, 3u);
  EXPECT_EQ(media_requests(id), 3u);
  EXPECT_TRUE(core_.quiet());
  // A gap: the reconcile lists the voicemail, unchanged, but forgotten: it is sent again,
  // now with its recording.
  missing = false;
  driver_.events.clear();
  model_.close_socket();
  core_.on_socket_closed(now_);
  driver_.run();
  ASSERT_NE(last(id), nullptr);
  EXPECT_EQ(last(id)->audio_sha256(), platform_hash(id));
}

TEST_F(GenesysCoreRecordingsTest, AFailureLandingLateIsTriedAgainWithoutAReconcile) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  int downloads = 0;
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_download(r) && downloads++ == 0) return status(404, "NoSuchKey");
    return std::nullopt;
  });
  EXPECT_EQ(core_.counters().audio_failures, 1u);
  EXPECT_EQ(core_.counters().agent_reconciles, 1u) << "no reconcile brought it back";
  ASSERT_NE(last(id), nullptr);
  EXPECT_EQ(last(id)->audio_sha256(), platform_hash(id));
}

TEST_F(GenesysCoreRecordingsTest, ARecordingPastTheBoundIsNotKept) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_download(r)) return status(413);  // the driver's answer past max_bytes
    return std::nullopt;
  });
  ASSERT_NE(last(id), nullptr);
  EXPECT_TRUE(last(id)->audio_sha256().empty());
  EXPECT_TRUE(driver_.media.empty());
  EXPECT_GE(core_.counters().audio_failures, 1u);
}

TEST_F(GenesysCoreRecordingsTest, AVoicemailGoneFromThePlatformIsNeitherSentNorTriedAgain) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.target.find("/media?") != std::string::npos) {
      return status(404, R"({"status":404,"code":"not.found","message":"voicemail not found"})");
    }
    return std::nullopt;
  });
  EXPECT_EQ(media_requests(id), 1u);
  EXPECT_EQ(core_.counters().audio_failures, 1u);
  EXPECT_EQ(last(id), nullptr) << "a deleted voicemail is not brought back";
  EXPECT_TRUE(core_.quiet());
}

// Decision 063 beside 064: a voicemail deleted on the platform while its recording downloads
// (the link still serves the bytes) stays deleted: the finished recording must not send the
// voicemail after its voicemail_deleted, which would bring it back on the server for good.
TEST_F(GenesysCoreRecordingsTest, AVoicemailDeletedWhileItsRecordingDownloadsStaysDeleted) {
  const std::string id = model_.leave_voicemail("agent-1", now_);
  bool deleted = false;
  driver_.run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (!is_download(r) || deleted) return std::nullopt;
    deleted = true;
    // Deleted on the web while the download is on its way; its notification arrives first.
    EXPECT_EQ(model_.handle("DELETE", "/api/v2/voicemail/messages/" + id, "", now_).status, 204);
    bool closed = false;
    for (const std::string& m : model_.take_socket_messages(&closed, 0)) {
      core_.on_socket_message(m, now_, 0);
    }
    return status(200, sim::GenesysModel::voicemail_audio(id));
  });
  ASSERT_TRUE(deleted);
  bool gone = false;
  for (const auto& e : driver_.events) {
    if (e.voicemail_deleted() == id) gone = true;
    const bool sent = (e.has_voicemail_left() && e.voicemail_left().id() == id) ||
                      (e.has_voicemail_updated() && e.voicemail_updated().id() == id);
    EXPECT_FALSE(gone && sent) << "the voicemail was sent after its deletion";
  }
  EXPECT_TRUE(gone) << "the delete notification is carried";
  EXPECT_TRUE(core_.quiet());
}

TEST(GenesysCoreRecordingsPortTest, ARecordingTheStoreNamesIsNotDownloaded) {
  CoreOptions o = recording_options();
  o.audio_stored = [](const std::string& user, const std::string&) { return user == "agent-1"; };
  sim::GenesysModel model({"agent-1"}, kStart);
  GenesysCore core(std::move(o));
  int64_t now = kStart;
  CoreTestDriver driver(model, core, now);
  const std::string id = model.leave_voicemail("agent-1", now);
  driver.run();
  bool sent = false;
  for (const auto& e : driver.events)
    sent |= e.has_voicemail_left() && e.voicemail_left().id() == id;
  EXPECT_TRUE(sent);
  EXPECT_EQ(driver.count("GET /api/v2/voicemail/messages/" + id + "/media"), 0u);
}

TEST(GenesysCoreRecordingsBreakTest, TheSelfTestHashesOtherBytes) {
  CoreOptions o = recording_options();
  o.break_recordings = true;
  sim::GenesysModel model({"agent-1"}, kStart);
  GenesysCore core(std::move(o));
  int64_t now = kStart;
  CoreTestDriver driver(model, core, now);
  const std::string id = model.leave_voicemail("agent-1", now);
  driver.run();
  ASSERT_EQ(driver.media.size(), 1u);
  EXPECT_NE(driver.media[0].sha256_hex, sha256_of(sim::GenesysModel::voicemail_audio(id)).hex());
}

}  // namespace
}  // namespace outpost::genesys
