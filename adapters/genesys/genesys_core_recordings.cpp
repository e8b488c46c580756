// The core's voicemail recordings (decisions 034, 064): a voicemail's event, notified or
// listed by a reconcile, waits for its recording so the record names its blob. The media
// endpoint (`GET /api/v2/voicemail/messages/{id}/media?formatId=WAV`, with the agent's login
// when held) gives a short-lived download link; the download (CoreRequest::Kind::kDownload:
// no bearer, no budget, bounded in bytes) is hashed and handed out (take_media) for the
// server's blob store. An expired link (403) gets one new link. A failure emits the event
// without audio and forgets it, so the next reconcile sends it again; it is also tried again
// after retry_after_failure, a few times per sighting (a failure landing after the last
// reconcile would otherwise leave the voicemail without audio until the next gap). A 404 from
// the media endpoint means the voicemail is gone: its event is dropped, not sent.
#include <cctype>

#include "adapters/genesys/genesys_core.h"
#include "engine/blob.h"

namespace outpost::genesys {
namespace {

constexpr int kRecordingAttempts = 3;      // per sighting of the voicemail
constexpr size_t kMaxKnownAudio = 50'000;  // hashes remembered
constexpr size_t kMaxRecordings = 10'000;  // voicemails waiting for their recording

bool plain_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

domain::Voicemail& voicemail_of(upstream::Event& event) {
  return event.has_voicemail_left() ? *event.mutable_voicemail_left()
                                    : *event.mutable_voicemail_updated();
}

}  // namespace

std::string genesys_media_uri(std::string_view voicemail_id) {
  return std::string(kGenesysMediaScheme) + "voicemail/" + std::string(voicemail_id);
}

void GenesysCore::emit_voicemail(upstream::Event event, const std::string& key) {
  domain::Voicemail& vm = voicemail_of(event);
  if (!options_.record_audio || !plain_id(vm.id())) return emit(std::move(event), key);
  if (auto known = audio_.find(vm.id()); known != audio_.end()) {
    vm.set_audio_uri(genesys_media_uri(vm.id()));
    vm.set_audio_sha256(known->second.first);
    vm.set_audio_size(known->second.second);
    return emit(std::move(event), key);
  }
  // Hashed by an earlier run: the store keeps it (the domain keeps a voicemail's recording
  // when an update comes without one).
  if (options_.audio_stored && options_.audio_stored(event.user(), vm.id())) {
    return emit(std::move(event), key);
  }
  auto it = recordings_.find(key);
  if (it == recordings_.end()) {
    if (recordings_.size() >= kMaxRecordings) {
      // Too many waiting: without audio for now, sent again by the next reconcile.
      emit(std::move(event), key);
      forget(key);  // kept as known: a listing that no longer shows it deletes it (063)
      return;
    }
    it = recordings_.emplace(key, Recording{}).first;
  }
  Recording& r = it->second;
  r.event = std::move(event);  // the latest sighting is the one emitted
  r.failures = 0;
  if (!r.running) fetch_recording(key, 0);
}

void GenesysCore::fetch_recording(const std::string& key, int link) {
  auto it = recordings_.find(key);
  if (it == recordings_.end()) return;  // the voicemail was deleted meanwhile (decision 063)
  Recording& r = it->second;
  r.running = true;
  r.retry_at = 0;
  const std::string user = r.event.user();
  const std::string id = voicemail_of(r.event).id();
  call(
      "GET", "/api/v2/voicemail/messages/" + id + "/media?formatId=WAV", "",
      [this, key, link](Result<CoreAnswer> media) {
        if (!media.ok()) return recording_failed(key, media.status().message(), true);
        if (media->status == 404) return recording_gone(key);
        if (media->status != 200) {
          return recording_failed(key, "media: HTTP " + std::to_string(media->status), true);
        }
        auto uri = decode_media_uri(media->body);
        if (!uri.ok()) {
          decode_failed("voicemail media", uri.status(), media->correlation_id);
          return recording_failed(key, "no download link", true);
        }
        download(*uri, options_.max_voicemail_bytes, [this, key, link](Result<CoreAnswer> audio) {
          if (audio.ok() && audio->status == 200 && !audio->body.empty()) {
            return recording_done(key, std::move(audio->body));
          }
          // 403: the link expired on the way (it is short-lived): one new link.
          if (audio.ok() && audio->status == 403 && link == 0) return fetch_recording(key, 1);
          recording_failed(key,
                           audio.ok() ? "download: HTTP " + std::to_string(audio->status)
                                      : audio.status().message(),
                           true);
        });
      },
      user);
}

void GenesysCore::recording_done(const std::string& key, std::string bytes) {
  auto it = recordings_.find(key);
  if (it == recordings_.end()) return;
  upstream::Event event = std::move(it->second.event);
  recordings_.erase(it);
  if (options_.break_recordings) bytes += "!";  // the self-test: not the platform's bytes
  const std::string hash = sha256_of(bytes).hex();
  const auto size = static_cast<int64_t>(bytes.size());
  domain::Voicemail& vm = voicemail_of(event);
  if (audio_.size() >= kMaxKnownAudio) audio_.clear();
  audio_[vm.id()] = {hash, size};
  vm.set_audio_uri(genesys_media_uri(vm.id()));
  vm.set_audio_sha256(hash);
  vm.set_audio_size(size);
  ++counters_.audio_fetched;
  media_out_.push_back(CoreMedia{hash, std::move(bytes)});
  emit(std::move(event), key);
}

void GenesysCore::recording_failed(const std::string& key, const std::string& why, bool retry) {
  auto it = recordings_.find(key);
  if (it == recordings_.end()) return;
  Recording& r = it->second;
  ++counters_.audio_failures;
  if (options_.log) {
    options_.log("genesys: voicemail " + voicemail_of(r.event).id() + " audio: " + why);
  }
  // Without its recording for now, and forgotten: the next reconcile sends it again.
  emit(r.event, key);
  forget(key);  // kept as known: a listing that no longer shows it deletes it (063)
  r.running = false;
  if (!retry || ++r.failures >= kRecordingAttempts) {
    recordings_.erase(it);
    return;
  }
  r.retry_at = now_ms_ + options_.retry_after_failure_ms;
}

void GenesysCore::recording_gone(const std::string& key) {
  auto it = recordings_.find(key);
  if (it == recordings_.end()) return;
  ++counters_.audio_failures;
  if (options_.log) {
    options_.log("genesys: voicemail " + voicemail_of(it->second.event).id() +
                 " audio: the platform has no such voicemail (not sent)");
  }
  // Deleted meanwhile: its event is not sent (it would bring a deleted voicemail back); a
  // later listing that still shows it starts again.
  recordings_.erase(it);
}

void GenesysCore::tick_recordings() {
  std::vector<std::string> due;
  for (const auto& [key, r] : recordings_)
    if (!r.running && r.retry_at <= now_ms_) due.push_back(key);
  for (const std::string& key : due) fetch_recording(key, 0);
}

std::optional<int64_t> GenesysCore::recordings_deadline() const {
  std::optional<int64_t> next;
  for (const auto& [key, r] : recordings_)
    if (!r.running && (!next || r.retry_at < *next)) next = r.retry_at;
  return next;
}

bool GenesysCore::recordings_running() const {
  for (const auto& [key, r] : recordings_)
    if (r.running) return true;
  return false;
}

std::vector<CoreMedia> GenesysCore::take_media() {
  std::vector<CoreMedia> out;
  out.swap(media_out_);
  return out;
}

}  // namespace outpost::genesys
