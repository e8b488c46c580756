#include "apps/outpost-server/event_inbox.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "adapters/sim_media.h"
#include "engine/blob.h"

namespace outpost::server_app {
namespace {

namespace fs = std::filesystem;

Result<upstream::Event> parse_event(const std::string& json) {
  if (json.size() > kMaxInboxFileBytes) {
    return error(ErrorCode::kTooLarge, "an event is at most 1 MiB");
  }
  upstream::Event event;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &event);
  if (!parsed.ok()) {
    return error(ErrorCode::kInvalidArgument,
                 "not an upstream event: " + std::string(parsed.message()));
  }
  if (event.kind_case() == upstream::Event::KIND_NOT_SET) {
    return error(ErrorCode::kInvalidArgument, "the event has no kind");
  }
  return event;
}

// A voicemail naming the simulated platform's media (a sim-media: audio URI) without its
// hash gets the hash and size the platform would send with it (adapters/sim_media.h), so
// a hand-made event's audio is playable (the push story). false: nothing to fill.
bool complete_sim_audio(upstream::Event& event) {
  domain::Voicemail* voicemail = event.has_voicemail_left()      ? event.mutable_voicemail_left()
                                 : event.has_voicemail_updated() ? event.mutable_voicemail_updated()
                                                                 : nullptr;
  if (voicemail == nullptr || !voicemail->audio_sha256().empty() ||
      voicemail->audio_uri().rfind(kSimMediaScheme, 0) != 0) {
    return false;
  }
  auto wav = fetch_sim_media(voicemail->audio_uri(), UINT64_MAX);
  if (!wav.ok()) return false;  // applied as given: the server answers 404 for its audio
  voicemail->set_audio_sha256(sha256_of(*wav).hex());
  voicemail->set_audio_size(static_cast<int64_t>(wav->size()));
  return true;
}

}  // namespace

Status queue_event(const std::string& data_dir, const std::string& given) {
  OUTPOST_ASSIGN_OR_RETURN(upstream::Event event, parse_event(given));
  std::string json = given;
  if (complete_sim_audio(event)) {
    google::protobuf::util::JsonPrintOptions options;
    json.clear();
    auto printed = google::protobuf::util::MessageToJsonString(event, &json, options);
    if (!printed.ok()) return error(ErrorCode::kInternal, std::string(printed.message()));
  }
  const fs::path inbox = fs::path(data_dir) / "inbox";
  std::error_code ec;
  fs::create_directories(inbox, ec);
  if (ec) return error(ErrorCode::kIo, "cannot create " + inbox.string() + ": " + ec.message());
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::system_clock::now().time_since_epoch().count();
  const std::string name =
      std::to_string(stamp) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const fs::path tmp = inbox / (name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary);
    out << json;
    if (!out.flush()) return error(ErrorCode::kIo, "cannot write " + tmp.string());
  }
  fs::rename(tmp, inbox / (name + ".json"), ec);
  if (ec) return error(ErrorCode::kIo, "cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

EventInbox::EventInbox(std::string data_dir, DomainServer& domain, std::chrono::milliseconds every,
                       Clock clock, Log log, Observer observer)
    : dir_(std::move(data_dir)),
      domain_(domain),
      clock_(std::move(clock)),
      log_(std::move(log)),
      observer_(std::move(observer)),
      thread_(every, [this] { pass(); }) {}

void EventInbox::stop() {
  thread_.stop();
}

void EventInbox::pass() {
  const fs::path inbox = fs::path(dir_) / "inbox";
  std::error_code ec;
  if (!fs::is_directory(inbox, ec)) return;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(inbox, ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.size() > static_cast<size_t>(kMaxInboxFilesPerPass))
    files.resize(kMaxInboxFilesPerPass);
  for (const fs::path& file : files) {
    std::string json;
    if (fs::file_size(file, ec) <= kMaxInboxFileBytes && !ec) {
      std::ifstream in(file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      json = text.str();
    }
    fs::remove(file, ec);
    auto event = parse_event(json);
    if (!event.ok()) {
      log_("inbox " + file.filename().string() + ": " + event.status().to_string());
      continue;
    }
    Status applied = domain_.apply(*event, clock_());
    if (!applied.ok()) {
      log_("inbox event: " + applied.to_string());
      continue;
    }
    if (observer_) observer_(*event);
  }
}

}  // namespace outpost::server_app
