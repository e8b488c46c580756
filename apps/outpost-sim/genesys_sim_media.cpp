// outpost-sim's genesys mode, the voicemail recordings (decision 064): the faults of a
// download link (expired on the way, 404, slow past the core's timeout), the blob service's
// on-demand fetch from the model, and the check that each mirrored voicemail names the hash
// of the platform's recording.
#include "adapters/genesys/genesys_core.h"
#include "apps/outpost-sim/genesys_sim.h"
#include "engine/blob.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {

namespace g = outpost::genesys;

void SimGenesys::flush_download(Message message, int64_t now_ms) {
  auto answered = [&](long status, const char* body) {
    ++stats_.media_faults;
    message.kind = Message::Kind::kAnswer;
    message.answer.status = status;
    message.answer.body = body;
    enqueue(now_ms + delay(), std::move(message));
  };
  if (random_.chance(faults_.media_expired))
    return answered(403, "AccessDenied: Request has expired");
  if (random_.chance(faults_.media_missing)) return answered(404, "NoSuchKey");
  if (random_.chance(faults_.media_slow)) {
    // Reaches the media host after the core gave up on it (its retry goes out meanwhile).
    ++stats_.media_faults;
    enqueue(now_ms + core_options().request_timeout_ms + delay(), std::move(message));
    return;
  }
  enqueue(now_ms + delay(), std::move(message));
}

Result<std::string> SimGenesys::fetch_media(std::string_view uri, uint64_t max_bytes) const {
  const std::string prefix = std::string(g::kGenesysMediaScheme) + "voicemail/";
  if (uri.rfind(prefix, 0) != 0) return error(ErrorCode::kNotFound, "not a Genesys media URI");
  const std::string id(uri.substr(prefix.size()));
  if (!model_.has_voicemail(id)) return error(ErrorCode::kNotFound, "no such voicemail");
  std::string bytes = GenesysModel::voicemail_audio(id);
  if (bytes.size() > max_bytes) return error(ErrorCode::kTooLarge, "the recording is too large");
  return bytes;
}

void SimGenesys::check_recordings(ServerStore& store, std::vector<std::string>& out) const {
  for (const ModelVoicemail& v : model_.voicemails()) {
    if (v.deleted) continue;  // check() reports one still on the server
    auto stored = store.get(ScopeName::format_user(tenant_, v.user), "voicemail", v.id);
    domain::Voicemail vm;
    if (!stored.ok() || !*stored || !vm.ParseFromString((*stored)->body)) continue;
    const std::string recording = GenesysModel::voicemail_audio(v.id);
    const std::string want = sha256_of(recording).hex();
    if (vm.audio_sha256().empty()) {
      out.push_back(v.user + ": voicemail " + v.id + " has no recording on the server");
    } else if (vm.audio_sha256() != want ||
               vm.audio_size() != static_cast<int64_t>(recording.size()) ||
               vm.audio_uri() != g::genesys_media_uri(v.id)) {
      out.push_back(v.user + ": voicemail " + v.id + " names recording " + vm.audio_sha256() +
                    " (" + std::to_string(vm.audio_size()) + " bytes), the platform's is " + want +
                    " (" + std::to_string(recording.size()) + " bytes)");
    }
  }
}

}  // namespace outpost::sim
