// The model's voicemail recordings (decisions 034, 064), from shared/reference/platform-apis.md
// §1.7 and the Python fake (tests/adapters/genesys/fake_genesys_model.py voicemail_media,
// media_download): the media endpoint gives a download link on the media host, valid for a
// while (short-lived [inf]); the link answers the WAV, 403 AccessDenied once expired, 404
// NoSuchKey for a link never given. The simulation adds its own faults on the way (an expired
// link, a 404, a slow download: genesys_sim.cpp).
#include "adapters/sim_media.h"
#include "apps/outpost-sim/genesys_model.h"

namespace outpost::sim {
namespace {

namespace json = boost::json;

constexpr int kAudioSeconds = 3;  // a short WAV: the sweeps hash many

ModelAnswer answer(long status, const json::value& body) {
  return {status, json::serialize(body)};
}

ModelAnswer err(long status, const std::string& code, const std::string& message) {
  return answer(
      status,
      json::object{
          {"status", status}, {"code", code}, {"message", message}, {"contextId", "sim-context"}});
}

}  // namespace

std::string GenesysModel::voicemail_audio(const std::string& voicemail_id) {
  return sim_voicemail_wav(voicemail_id, kAudioSeconds);
}

bool GenesysModel::has_voicemail(const std::string& id) const {
  auto it = voicemails_.find(id);
  return it != voicemails_.end() && !it->second.at("deleted").as_bool();
}

ModelAnswer GenesysModel::voicemail_media(const std::string& id,
                                          const std::map<std::string, std::string>& query) {
  if (!has_voicemail(id)) return err(404, "not.found", "voicemail not found");
  auto format = query.find("formatId");
  const std::string fmt = format == query.end() ? "WEBM" : format->second;
  if (fmt != "WAV" && fmt != "NONE") {
    return err(400, "bad.request", "the model serves formatId=WAV (or NONE) only");
  }
  json::object body{
      {"id", id}, {"mediaImageUri", ""}, {"waveformData", json::array{0.1, 0.5, 0.2}}};
  if (fmt == "WAV") {
    // Links expired long ago are forgotten (their download is then a 404, as on S3).
    for (auto it = media_links_.begin(); it != media_links_.end();) {
      it = it->second.second + 10 * media_link_ttl_ms_ < now_ms_ ? media_links_.erase(it)
                                                                 : std::next(it);
    }
    const std::string token = "link-" + std::to_string(++media_links_made_);
    media_links_[token] = {id, now_ms_ + media_link_ttl_ms_};
    body["mediaFileUri"] = std::string(kMediaHost) + token + ".wav?X-Amz-Signature=sim";
  }
  return answer(200, body);
}

ModelAnswer GenesysModel::media_download(const std::string& target) {
  std::string token = target.substr(kMediaHost.size());
  token = token.substr(0, token.find_first_of(".?"));
  auto it = media_links_.find(token);
  if (it == media_links_.end()) return {404, "NoSuchKey"};
  if (it->second.second <= now_ms_) return {403, "AccessDenied: Request has expired"};
  return {200, voicemail_audio(it->second.first)};
}

}  // namespace outpost::sim
