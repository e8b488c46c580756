#include "apps/outpost/blob_commands.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <ostream>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "transport/client_id.h"
#include "transport/device_blobs.h"

namespace outpost::cli {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status copy_out(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return error(ErrorCode::kIo, "cannot write " + to + ": " + ec.message());
  return Status::Ok();
}

struct BlobContext {
  std::unique_ptr<Replica> replica;
  std::unique_ptr<BlobCache> cache;
  std::unique_ptr<BlobClient> client;  // null without --server/--token (offline)
};

Result<BlobContext> open_context(const ParsedArgs& args) {
  BlobContext context;
  const std::string db = *args.flag("db");
  // A new file keeps this client id for life; an existing one keeps its own.
  OUTPOST_ASSIGN_OR_RETURN(context.replica, Replica::open(db, Schema::domain(), &domain_mutators(),
                                                          {.client_id = new_client_id()}));
  BlobCacheOptions cache;
  cache.dir = args.flag("blobs").value_or(db + ".blobs");
  OUTPOST_ASSIGN_OR_RETURN(context.cache, BlobCache::open(cache));
  auto server = args.flag("server");
  auto token = args.flag("token");
  if (server && token) {
    BlobClientOptions options;
    options.server_url = *server;
    options.token = *token;
    // An https:// server is trusted as `sync` trusts it (--ca, --pin; else the system's).
    options.tls_options.ca_file = args.flag("ca").value_or("");
    options.tls_options.pinned_cert_file = args.flag("pin").value_or("");
    context.client = std::make_unique<BlobClient>(options);
  }
  return context;
}

Status blob_get(BlobContext& context, const ParsedArgs& args, std::ostream& out) {
  if (args.positional.size() != 3 || args.positional[1] != "get" || !args.flag("o")) {
    return error(ErrorCode::kInvalidArgument, "usage: blob get HASH -o FILE");
  }
  OUTPOST_ASSIGN_OR_RETURN(BlobHash hash, BlobHash::parse(args.positional[2]));
  OUTPOST_ASSIGN_OR_RETURN(auto cached, context.cache->find(hash));
  std::string path;
  if (cached) {
    path = *cached;
  } else {
    if (!context.client) {
      return error(ErrorCode::kUnavailable,
                   "blob " + hash.hex() + " is not on the device; give --server and --token");
    }
    OUTPOST_ASSIGN_OR_RETURN(BlobRecordRef ref, find_blob_reference(*context.replica, hash));
    OUTPOST_ASSIGN_OR_RETURN(path, context.client->fetch(*context.cache, hash, ref));
  }
  OUTPOST_RETURN_IF_ERROR(copy_out(path, *args.flag("o")));
  out << "wrote " << *args.flag("o") << " (" << std::filesystem::file_size(path) << " bytes, "
      << (cached ? "from the cache" : "downloaded") << ", sha256 verified)\n";
  return Status::Ok();
}

Status play(BlobContext& context, const ParsedArgs& args, std::ostream& out) {
  if (args.positional.size() != 2) {
    return error(ErrorCode::kInvalidArgument, "usage: play VOICEMAIL_ID [-o FILE]");
  }
  const std::string& id = args.positional[1];
  const bool was_cached = [&] {
    auto voicemail = context.replica->get<domain::Voicemail>(id);
    if (!voicemail.ok() || !*voicemail) return false;
    auto hash = BlobHash::parse((*voicemail)->audio_sha256());
    return hash.ok() && context.cache->contains(*hash);
  }();
  OUTPOST_ASSIGN_OR_RETURN(std::string path, voicemail_audio(*context.replica, id, *context.cache,
                                                             context.client.get()));
  const std::string target = args.flag("o").value_or(id + ".wav");
  OUTPOST_RETURN_IF_ERROR(copy_out(path, target));
  // Playing marks it read (field guide 2.1.5.2.13): a mutation, pushed at the next sync.
  mutations::MarkVoicemailRead read;
  read.set_id(id);
  OUTPOST_RETURN_IF_ERROR(context.replica->mutate("mark_voicemail_read", read, wall_ms()).status());
  out << "playing " << id << ": wrote " << target << " (" << std::filesystem::file_size(target)
      << " bytes, " << (was_cached ? "from the cache, offline-ready" : "downloaded")
      << "); marked read\n";
  return Status::Ok();
}

}  // namespace

bool is_blob_command(const std::string& command) {
  return command == "blob" || command == "play";
}

int run_blob_command(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  auto context = open_context(args);
  Status status = context.ok() ? Status::Ok() : context.status();
  if (status.ok()) {
    status =
        args.positional[0] == "blob" ? blob_get(*context, args, out) : play(*context, args, out);
  }
  if (status.ok()) return 0;
  err << "outpost: " << status.to_string() << "\n";
  return status.code() == ErrorCode::kInvalidArgument ? 2 : 1;
}

}  // namespace outpost::cli
