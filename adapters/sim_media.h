// The simulated platform's media: a short WAV per voicemail (8 kHz, 8-bit mono, a few
// triangle-wave tones chosen by the voicemail's id), the same bytes on every machine and
// every run (integer arithmetic only). Voicemails of the simulator and the demo data carry a
// `sim-media:` URI and the audio's SHA-256; the server fetches the bytes lazily through
// fetch_sim_media, as the Genesys adapter would call the platform's media endpoint.
// Thread rules: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "outpost/domain.pb.h"

namespace outpost {

// Audio is cut at this many seconds (a voicemail's duration_s may be longer).
inline constexpr int kMaxSimAudioSeconds = 30;
inline constexpr std::string_view kSimMediaScheme = "sim-media:";

// The WAV of a voicemail lasting `seconds` (clamped to 1..kMaxSimAudioSeconds).
std::string sim_voicemail_wav(std::string_view voicemail_id, int seconds);
// "sim-media:voicemail/<id>?seconds=<n>"
std::string sim_voicemail_uri(std::string_view voicemail_id, int seconds);
// Sets audio_uri, audio_sha256 and audio_size of a voicemail from its id and duration.
void attach_sim_audio(domain::Voicemail& voicemail);
// The bytes behind a sim-media URI. Errors: kNotFound for a URI this platform did not
// make; kTooLarge when the media passes max_bytes.
Result<std::string> fetch_sim_media(std::string_view uri, uint64_t max_bytes);

}  // namespace outpost
