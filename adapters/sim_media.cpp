#include "adapters/sim_media.h"

#include <algorithm>
#include <charconv>

#include "engine/blob.h"

namespace outpost {
namespace {

constexpr uint32_t kSampleRate = 8000;

void put_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint32_t fnv1a(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (char c : text) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  return hash;
}

}  // namespace

std::string sim_voicemail_wav(std::string_view voicemail_id, int seconds) {
  seconds = std::clamp(seconds, 1, kMaxSimAudioSeconds);
  const uint32_t samples = kSampleRate * static_cast<uint32_t>(seconds);
  std::string out;
  out.reserve(44 + samples);
  out += "RIFF";
  put_le(out, 36 + samples, 4);
  out += "WAVEfmt ";
  put_le(out, 16, 4);           // fmt chunk size
  put_le(out, 1, 2);            // PCM
  put_le(out, 1, 2);            // mono
  put_le(out, kSampleRate, 4);  // sample rate
  put_le(out, kSampleRate, 4);  // bytes per second
  put_le(out, 1, 2);            // block align
  put_le(out, 8, 2);            // bits per sample
  out += "data";
  put_le(out, samples, 4);
  uint32_t seed = fnv1a(voicemail_id);
  // One tone per half second: a triangle wave of 200..800 Hz, period in samples.
  for (uint32_t start = 0; start < samples; start += kSampleRate / 2) {
    seed = seed * 1664525u + 1013904223u;
    const uint32_t period = kSampleRate / (200 + (seed >> 16) % 600);
    const uint32_t end = std::min(samples, start + kSampleRate / 2);
    for (uint32_t i = start; i < end; ++i) {
      const uint32_t phase = (i % period) * 2 * 96 / period;  // 0..191
      const uint32_t level = phase < 96 ? phase : 191 - phase;
      out.push_back(static_cast<char>(128 - 48 + level));
    }
  }
  return out;
}

std::string sim_voicemail_uri(std::string_view voicemail_id, int seconds) {
  return std::string(kSimMediaScheme) + "voicemail/" + std::string(voicemail_id) +
         "?seconds=" + std::to_string(std::clamp(seconds, 1, kMaxSimAudioSeconds));
}

void attach_sim_audio(domain::Voicemail& voicemail) {
  const std::string wav = sim_voicemail_wav(voicemail.id(), voicemail.duration_s());
  voicemail.set_audio_uri(sim_voicemail_uri(voicemail.id(), voicemail.duration_s()));
  voicemail.set_audio_sha256(sha256_of(wav).hex());
  voicemail.set_audio_size(static_cast<int64_t>(wav.size()));
}

Result<std::string> fetch_sim_media(std::string_view uri, uint64_t max_bytes) {
  const std::string prefix = std::string(kSimMediaScheme) + "voicemail/";
  const size_t query = uri.rfind("?seconds=");
  if (uri.substr(0, prefix.size()) != prefix || query == std::string_view::npos ||
      query < prefix.size()) {
    return error(ErrorCode::kNotFound, "not a sim-media URI");
  }
  const std::string_view id = uri.substr(prefix.size(), query - prefix.size());
  const std::string_view digits = uri.substr(query + 9);
  int seconds = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
  if (ec != std::errc() || end != digits.data() + digits.size() || seconds < 1 ||
      seconds > kMaxSimAudioSeconds || id.empty()) {
    return error(ErrorCode::kNotFound, "not a sim-media URI");
  }
  if (44 + uint64_t{kSampleRate} * static_cast<uint64_t>(seconds) > max_bytes) {
    return error(ErrorCode::kTooLarge, "the media passes the blob bound");
  }
  return sim_voicemail_wav(id, seconds);
}

}  // namespace outpost
