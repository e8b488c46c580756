#include "apps/outpost-bench/blob_scenarios.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "adapters/sim_random.h"
#include "outpost/mutations.pb.h"
#include "transport/blob_cache.h"
#include "transport/blob_client.h"
#include "transport/sync_agent.h"

namespace outpost::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr auto kSyncBudget = std::chrono::seconds(120);

std::vector<Param> with_params(std::vector<Param> params, std::vector<Param> more) {
  params.insert(params.end(), more.begin(), more.end());
  return params;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A file of `bytes` seeded bytes; returns its hash.
Result<BlobHash> write_payload(const std::string& path, uint64_t bytes) {
  SimRandom random(17);
  std::string piece(1 << 20, '\0');
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error(ErrorCode::kIo, "cannot create " + path);
  Sha256 hasher;
  for (uint64_t done = 0; done < bytes;) {
    for (size_t i = 0; i + 8 <= piece.size(); i += 8) {
      const uint64_t value = random.next();
      std::memcpy(piece.data() + i, &value, 8);
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(piece.size(), bytes - done));
    hasher.update(std::string_view(piece.data(), n));
    if (::write(fd, piece.data(), n) != static_cast<ssize_t>(n)) {
      ::close(fd);
      return error(ErrorCode::kIo, "cannot write " + path);
    }
    done += n;
  }
  ::close(fd);
  return hasher.finish();
}

// The baseline: the file sent over a loopback TCP socket (sendfile) and written to
// `to` by the receiver, then fsynced. Returns the seconds it took.
Result<double> plain_copy(const std::string& from, const std::string& to, uint64_t bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (listener >= 0) ::close(listener);
    return error(ErrorCode::kIo, "cannot listen on loopback");
  }
  std::thread sender([&] {
    const int peer = ::accept(listener, nullptr, nullptr);
    const int file = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    off_t offset = 0;
    while (peer >= 0 && file >= 0 && static_cast<uint64_t>(offset) < bytes) {
      if (::sendfile(peer, file, &offset, bytes - static_cast<uint64_t>(offset)) <= 0) break;
    }
    if (file >= 0) ::close(file);
    if (peer >= 0) ::close(peer);
  });
  const auto start = Clock::now();
  const int socket = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  uint64_t received = 0;
  if (socket >= 0 && out >= 0 &&
      ::connect(socket, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    std::string buffer(256 * 1024, '\0');
    for (;;) {
      const ssize_t n = ::read(socket, buffer.data(), buffer.size());
      if (n <= 0) break;
      if (::write(out, buffer.data(), static_cast<size_t>(n)) != n) break;
      received += static_cast<uint64_t>(n);
    }
    ::fsync(out);
  }
  const double seconds = seconds_since(start);
  if (socket >= 0) ::close(socket);
  if (out >= 0) ::close(out);
  sender.join();
  ::close(listener);
  if (received != bytes) return error(ErrorCode::kIo, "the plain copy was cut short");
  return seconds;
}

// Samples this process's RSS every few milliseconds while alive; peak() is the highest.
class RssSampler {
 public:
  RssSampler()
      : thread_([this] {
          while (!stop_.load()) {
            const double rss = process_usage(::getpid()).rss_mib;
            double seen = peak_.load();
            while (rss > seen && !peak_.compare_exchange_weak(seen, rss)) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~RssSampler() { stop(); }
  double stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return peak_.load();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<double> peak_{0};
  std::thread thread_;
};

// The device saves a draft with the attachment and syncs it, so the server lets it read it.
Status reference_from_a_draft(BenchContext& context, const std::string& token, const BlobHash& hash,
                              uint64_t bytes, const std::string& dir) {
  SyncAgentOptions options;
  options.server_url = context.server_url(0);
  options.token = token;
  options.replica_path = dir + "/device.db";
  OUTPOST_ASSIGN_OR_RETURN(auto agent, SyncAgent::open(options));
  Status saved = agent->with_replica([&](Replica& replica) {
    mutations::SaveDraft args;
    args.mutable_draft()->set_id("blob-draft");
    args.mutable_draft()->set_body("the attached recording");
    auto* attachment = args.mutable_draft()->add_attachments();
    attachment->set_id("attachment-1");
    attachment->set_name("recording.bin");
    attachment->set_size_bytes(static_cast<int64_t>(bytes));
    attachment->set_sha256(hash.hex());
    (void)replica.mutate("save_draft", args, 1);
  });
  OUTPOST_RETURN_IF_ERROR(saved);
  SyncSummary summary = agent->sync_for(kSyncBudget);
  if (!summary.caught_up) return summary.status.with_context("syncing the draft");
  return Status::Ok();
}

}  // namespace

Status run_blob_transfer(BenchContext& context, uint64_t bytes) {
  OUTPOST_RETURN_IF_ERROR(context.start_servers());
  const std::string dir = context.scenario_dir("blob_transfer");
  const std::string payload = dir + "/payload.bin";
  OUTPOST_ASSIGN_OR_RETURN(BlobHash hash, write_payload(payload, bytes));
  OUTPOST_ASSIGN_OR_RETURN(std::string token,
                           context.tokens->issue("blob-bench", "agent-1", "phone"));
  std::string content;
  {
    std::ifstream in(payload, std::ios::binary);
    content.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<Param> params = context.common_params();
  params.push_back(param("bytes", bytes));

  BlobClientOptions client_options;
  client_options.server_url = context.server_url(0);
  client_options.token = token;
  auto started = Clock::now();
  {
    BlobClient uploader(client_options);
    OUTPOST_RETURN_IF_ERROR(uploader.upload(hash, content));
  }
  const double upload_seconds = seconds_since(started);
  content.clear();
  content.shrink_to_fit();
  OUTPOST_RETURN_IF_ERROR(reference_from_a_draft(context, token, hash, bytes, dir));

  OUTPOST_ASSIGN_OR_RETURN(double copy_seconds, plain_copy(payload, dir + "/copy.bin", bytes));
  std::filesystem::remove(dir + "/copy.bin");
  const double copy_rate = static_cast<double>(bytes) / kMiB / copy_seconds;
  const BlobRecordRef ref{"draft", "blob-draft"};

  // The download, with the device's RSS sampled while it streams.
  const double rss_before = process_usage(::getpid()).rss_mib;
  double download_seconds = 0;
  double rss_peak = 0;
  {
    auto cache = BlobCache::open({dir + "/cache", 4 * bytes}).value();
    BlobClient device(client_options);
    RssSampler sampler;
    started = Clock::now();
    auto path = device.fetch(*cache, hash, ref);
    download_seconds = seconds_since(started);
    rss_peak = sampler.stop();
    if (!path.ok()) return path.status().with_context("downloading the blob");
  }
  const double download_rate = static_cast<double>(bytes) / kMiB / download_seconds;
  context.report.add({"blob.download", download_rate, "MiB/s", copy_rate,
                      ratio_of(download_rate, copy_rate), params});
  const double upload_rate = static_cast<double>(bytes) / kMiB / upload_seconds;
  context.report.add(
      {"blob.upload", upload_rate, "MiB/s", copy_rate, ratio_of(upload_rate, copy_rate), params});
  const double blob_mib = static_cast<double>(bytes) / kMiB;
  context.report.add(
      {"blob.device_rss", rss_peak - rss_before, "MiB", blob_mib,
       ratio_of(rss_peak - rss_before, blob_mib),
       with_params(params,
                   {param("rss_before_mib", rss_before),
                    param("buffer_mib", static_cast<double>(limits::kClientBlobBuffer) / kMiB)})});

  // Killed at 50%, then resumed: only the rest travels.
  {
    auto cache = BlobCache::open({dir + "/cache-resume", 4 * bytes}).value();
    {
      BlobClient device(client_options);
      auto cut = device.fetch(*cache, hash, ref,
                              [](uint64_t done, uint64_t total) { return done * 2 < total; });
      if (cut.status().code() != ErrorCode::kCancelled) {
        return error(ErrorCode::kInternal, "the download was not cut at 50%");
      }
    }
    const uint64_t held = cache->partial_size(hash);
    BlobClient device(client_options);
    started = Clock::now();
    auto path = device.fetch(*cache, hash, ref);
    const double resume_seconds = seconds_since(started);
    if (!path.ok()) return path.status().with_context("resuming the blob");
    context.report.add(
        {"blob.resume_after_kill", resume_seconds * 1000, "ms", download_seconds * 1000,
         ratio_of(resume_seconds, download_seconds),
         with_params(params, {param("held_at_kill", held),
                              param("requests", static_cast<uint64_t>(device.requests()))})});
  }
  std::filesystem::remove(payload);
  return Status::Ok();
}

}  // namespace outpost::bench
