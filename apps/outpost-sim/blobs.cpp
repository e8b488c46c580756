#include "apps/outpost-sim/blobs.h"

#include <fcntl.h>
#include <unistd.h>

#include "adapters/sim_media.h"
#include "outpost/domain.pb.h"
#include "transport/blob_cache.h"

namespace outpost::sim {
namespace {

namespace d = outpost::domain;

Status append(const std::string& path, uint64_t offset, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error(ErrorCode::kIo, "cannot open " + path);
  const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
  if (n != static_cast<ssize_t>(bytes.size())) return error(ErrorCode::kIo, "cannot write " + path);
  return Status::Ok();
}

Result<std::vector<d::Voicemail>> voicemails_with_audio(Replica& replica) {
  Query query;
  query.collection = "voicemail";
  OUTPOST_ASSIGN_OR_RETURN(auto rows, replica.query(query));
  std::vector<d::Voicemail> out;
  for (const auto& row : rows) {
    d::Voicemail voicemail;
    voicemail.CopyFrom(*row);
    if (BlobHash::parse(voicemail.audio_sha256()).ok()) out.push_back(std::move(voicemail));
  }
  return out;
}

}  // namespace

Status SimBlobs::open() {
  OUTPOST_ASSIGN_OR_RETURN(store_, DirBlobStore::open(dir_ + "/server-blobs"));
  return Status::Ok();
}

BlobService SimBlobs::service(SimServer& server) {
  BlobServiceOptions options;
  options.fetch_media = [this](std::string_view uri, uint64_t max_bytes) -> Result<std::string> {
    if (media_source_ && uri.rfind(kSimMediaScheme, 0) != 0) return media_source_(uri, max_bytes);
    return fetch_sim_media(uri, max_bytes);
  };
  return BlobService(server.store(), *store_, Schema::domain(), options);
}

std::string SimBlobs::cache_dir(const SimDevice& device) const {
  return device.path() + ".blobs";
}

Status SimBlobs::step(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server,
                      double chance) {
  if (!random_.chance(chance) || devices.empty()) return Status::Ok();
  SimDevice& device = *devices[random_.below(devices.size())];
  if (!device.alive()) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(auto voicemails, voicemails_with_audio(device.replica()));
  if (voicemails.empty()) return Status::Ok();
  const d::Voicemail& voicemail = voicemails[random_.below(voicemails.size())];
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  BlobService blobs = service(server);
  ++stats_.plays;
  return fetch(device, blobs, voicemail.id(), hash);
}

Status SimBlobs::fetch(SimDevice& device, BlobService& blobs, const std::string& voicemail_id,
                       const BlobHash& hash) {
  OUTPOST_ASSIGN_OR_RETURN(auto cache,
                           BlobCache::open({cache_dir(device), kDefaultBlobCacheBytes}));
  OUTPOST_ASSIGN_OR_RETURN(auto cached, cache->find(hash));
  if (cached) {
    trace_.add(device.name() + " plays " + voicemail_id + " from its cache");
    return Status::Ok();
  }
  auto reader = blobs.open_for_read(device.who(), hash, "voicemail", voicemail_id);
  if (!reader.ok()) {
    // The voicemail may be gone or changed on the server since the device last pulled.
    trace_.add(device.name() + " cannot fetch " + voicemail_id + ": " +
               reader.status().to_string());
    return reader.status().code() == ErrorCode::kPermissionDenied ? Status::Ok() : reader.status();
  }
  uint64_t offset = cache->partial_size(hash);
  if (offset > 0) ++stats_.resumed;
  // The app may be killed after any range: the partial stays for the next play.
  const uint64_t cut_after = random_.chance(0.4) ? random_.below(4) : UINT64_MAX;
  std::string piece;
  for (uint64_t ranges = 0; offset < (*reader)->size(); ++ranges) {
    if (ranges == cut_after) {
      ++stats_.downloads_cut;
      trace_.add(device.name() + " killed while downloading " + voicemail_id + " at " +
                 std::to_string(offset));
      return Status::Ok();
    }
    OUTPOST_RETURN_IF_ERROR((*reader)->read(offset, kPiece, piece));
    if (piece.empty()) break;
    OUTPOST_RETURN_IF_ERROR(append(cache->partial_path(hash), offset, piece));
    offset += piece.size();
    stats_.bytes += piece.size();
  }
  OUTPOST_RETURN_IF_ERROR(cache->complete(hash));
  trace_.add(device.name() + " plays " + voicemail_id + " (" + std::to_string(offset) + " bytes)");
  return Status::Ok();
}

void SimBlobs::damage_caches(std::vector<std::unique_ptr<SimDevice>>& devices) {
  for (auto& device : devices) {
    auto cache = BlobCache::open({cache_dir(*device), kDefaultBlobCacheBytes});
    if (!cache.ok()) continue;
    auto held = (*cache)->list();
    for (const CachedBlob& blob : held.ok() ? *held : std::vector<CachedBlob>{}) {
      const std::string path = (*cache)->path_of(blob.hash);
      (void)append(path, blob.size, "!");
    }
  }
}

std::vector<Violation> SimBlobs::check(std::vector<std::unique_ptr<SimDevice>>& devices,
                                       SimServer& server) {
  std::vector<Violation> out;
  BlobService blobs = service(server);
  for (auto& device : devices) {
    if (!device->alive()) continue;
    const std::string term = "d" + std::to_string(device->index());
    auto cache = BlobCache::open({cache_dir(*device), kDefaultBlobCacheBytes});
    if (!cache.ok()) {
      out.push_back({"(6) blobs", device->name() + ": " + cache.status().to_string(), {term}});
      continue;
    }
    // Every blob the device holds verifies (hashed here, independently of the cache).
    auto held = (*cache)->list();
    for (const CachedBlob& blob : held.ok() ? *held : std::vector<CachedBlob>{}) {
      auto actual = hash_file((*cache)->path_of(blob.hash));
      if (!actual.ok() || *actual != blob.hash) {
        out.push_back(
            {"(6) blobs",
             device->name() + " holds blob " + blob.hash.hex() + " whose bytes do not verify",
             {term}});
      }
    }
    // Every referenced blob is on the device or fetchable with the device's own token.
    auto voicemails = voicemails_with_audio(device->replica());
    for (const auto& voicemail : voicemails.ok() ? *voicemails : std::vector<d::Voicemail>{}) {
      const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
      if ((*cache)->contains(hash)) continue;
      auto reader = blobs.open_for_read(device->who(), hash, "voicemail", voicemail.id());
      if (!reader.ok()) {
        out.push_back({"(6) blobs",
                       device->name() + " references the audio of " + voicemail.id() +
                           " but cannot fetch it: " + reader.status().to_string(),
                       {term}});
      }
    }
  }
  return out;
}

}  // namespace outpost::sim
