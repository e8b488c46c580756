// The Genesys adapter's voicemail beyond the mirror: the recording fetched again, on demand,
// for the server's blob service when its store lacks the bytes (the media endpoint gives a
// short-lived download link; decision 034 — the core hashes each recording when it mirrors
// the voicemail, decision 064, genesys_core_recordings.cpp), and the device's read and
// delete written back as the core's intents (decision 023 through GenesysCoreDriver,
// decision 043).
#include <boost/json.hpp>

#include "adapters/genesys/genesys_upstream.h"
#include "engine/blob.h"

namespace outpost::genesys {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kMediaDeadline{30};

bool plain_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string> GenesysUpstream::fetch_voicemail_audio(const std::string& user,
                                                           const std::string& id,
                                                           uint64_t max_bytes) {
  if (!plain_id(id)) return error(ErrorCode::kNotFound, "not a Genesys voicemail id");
  const auto deadline = Clock::now() + kMediaDeadline;
  // A link may expire between the two requests (it is short-lived): one more link then.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::string path = "/api/v2/voicemail/messages/" + id + "/media?formatId=WAV";
    auto media = user.empty() ? rest_.call("GET", path, "", deadline)
                              : rest_.call_for(user, "GET", path, "", deadline);
    if (!media.ok()) return media.status();
    if (media->status == 404)
      return error(ErrorCode::kNotFound, "the platform has no such voicemail");
    if (media->status != 200) {
      return error(ErrorCode::kUnavailable,
                   "voicemail media: HTTP " + std::to_string(media->status));
    }
    auto uri = decode_media_uri(media->body);
    if (!uri.ok()) {
      decode_failed("voicemail media", uri.status(), media->correlation_id);
      return error(ErrorCode::kNotFound, "the platform gave no download link");
    }
    OUTPOST_ASSIGN_OR_RETURN(RestResponse audio, rest_.download(*uri, max_bytes, deadline));
    if (audio.status == 200) {
      if (audio.body.empty()) return error(ErrorCode::kNotFound, "the recording is empty");
      return std::move(audio.body);
    }
    if (audio.status != 403) break;  // 403: the link expired; anything else: give up
  }
  return error(ErrorCode::kUnavailable, "the recording could not be downloaded");
}

Result<std::string> GenesysUpstream::fetch_media(std::string_view uri, uint64_t max_bytes) {
  const std::string prefix = std::string(kGenesysMediaScheme) + "voicemail/";
  if (uri.rfind(prefix, 0) != 0) return error(ErrorCode::kNotFound, "not a Genesys media URI");
  const std::string id(uri.substr(prefix.size()));
  // The client's token: the blob service serves the device whose record names this
  // voicemail (decision 028 checked it); no user's login is needed for the admin read.
  auto bytes = fetch_voicemail_audio("", id, max_bytes);
  if (!bytes.ok() && bytes.status().code() == ErrorCode::kTooLarge) return bytes.status();
  return bytes;
}

Result<PlatformAnswer> GenesysUpstream::mark_voicemail_read(const AgentRef& agent,
                                                            const std::string& voicemail_id,
                                                            int64_t) {
  return core_.intent(
      [&](GenesysCore& core, int64_t now_ms) {
        return core.mark_voicemail_read(agent, voicemail_id, now_ms);
      },
      options_.intent_wait);
}

Result<PlatformAnswer> GenesysUpstream::delete_voicemail(const AgentRef& agent,
                                                         const std::string& voicemail_id, int64_t) {
  return core_.intent(
      [&](GenesysCore& core, int64_t now_ms) {
        return core.delete_voicemail(agent, voicemail_id, now_ms);
      },
      options_.intent_wait);
}

}  // namespace outpost::genesys
