#include "fuzz/fuzz_support.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <google/protobuf/stubs/logging.h>

#include "adapters/sqlite_server_store.h"
#include "engine/domain_mutators.h"
#include "engine/schema.h"
#include "outpost/mutations.pb.h"

namespace outpost::fuzz {
namespace {

struct TempDir {
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "outpost-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

struct ServerFixture {
  std::unique_ptr<SqliteServerStore> store;
  std::unique_ptr<ServerCore> core;
};

void seed(ServerCore& core) {
  protocol::PushRequest push;
  push.set_client_id("seed");
  push.set_schema_version(Schema::domain().version());
  push.set_protocol_version(protocol::VERSION_CURRENT);
  for (uint64_t id = 1; id <= 4; ++id) {
    mutations::SetUserSetting args;
    args.set_name("setting-" + std::to_string(id));
    args.set_value("value");
    protocol::Mutation* mutation = push.add_mutations();
    mutation->set_id(id);
    mutation->set_name("set_user_setting");
    mutation->set_args(args.SerializeAsString());
    mutation->set_created_ms(kNowMs);
  }
  auto pushed = core.push(principal(), push, kNowMs);
  check(pushed.ok(), "seeding the server store failed");
}

// protobuf logs every string field that is not UTF-8; fuzz input is full of them.
const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

}  // namespace

void fail(std::string_view what) {
  std::fprintf(stderr, "outpost fuzz contract broken: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

void check_code(const Status& status, std::initializer_list<ErrorCode> allowed,
                std::string_view where) {
  if (status.ok()) return;
  for (ErrorCode code : allowed) {
    if (status.code() == code) return;
  }
  fail(std::string(where) + ": unexpected error " + status.to_string());
}

const std::string& temp_dir() {
  static TempDir dir;
  return dir.path;
}

const TokenAuthority& token_authority() {
  static const TokenAuthority authority(std::string(32, 'k'));
  return authority;
}

std::string valid_token() {
  protocol::TokenClaims claims;
  claims.set_tenant(std::string(kTenant));
  claims.set_user(std::string(kUser));
  claims.set_device(std::string(kDevice));
  claims.set_issued_ms(kNowMs - 1000);
  claims.set_expires_ms(kNowMs + 3'600'000);
  auto token = token_authority().issue(claims);
  check(token.ok(), "cannot issue the corpus token");
  return token.value();
}

Principal principal() {
  return Principal{std::string(kTenant), std::string(kUser), std::string(kDevice)};
}

ServerCore& server_core() {
  static ServerFixture fixture;
  static int calls = 0;
  static int generation = 0;
  if (fixture.core == nullptr || ++calls % kRecreateEvery == 0) {
    fixture.core.reset();
    fixture.store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir() + "/gen-" + std::to_string(generation), ignored);
    std::string dir = temp_dir() + "/gen-" + std::to_string(++generation);
    std::filesystem::create_directories(dir);
    auto store = SqliteServerStore::open(dir + "/outpost.db");
    check(store.ok(), "cannot open the server store");
    fixture.store = std::move(store).value();
    fixture.core =
        std::make_unique<ServerCore>(*fixture.store, Schema::domain(), domain_mutators());
    seed(*fixture.core);
  }
  return *fixture.core;
}

Replica& FuzzReplica::get() {
  if (current_ == nullptr || ++calls_ % kRecreateEvery == 0) {
    current_.reset();
    std::error_code ignored;
    const std::string prefix = temp_dir() + "/" + name_ + "-";
    std::filesystem::remove_all(prefix + std::to_string(generation_), ignored);
    const std::string dir = prefix + std::to_string(++generation_);
    std::filesystem::create_directories(dir);
    ReplicaOptions options;
    options.tenant = std::string(kTenant);
    options.user = std::string(kUser);
    options.client_id = "fuzz-device";
    auto opened = Replica::open(dir + "/outpost.db", Schema::domain(), &domain_mutators(), options);
    check(opened.ok(), "cannot open the replica");
    current_ = std::move(opened).value();
    if (fresh_) fresh_(*current_);
  }
  return *current_;
}

bool next_message(std::string_view& rest, std::string_view& message) {
  if (rest.size() < 2) return false;
  const size_t length = static_cast<uint8_t>(rest[0]) | (static_cast<size_t>(rest[1]) << 8);
  rest.remove_prefix(2);
  message = rest.substr(0, length);
  rest.remove_prefix(message.size());
  return true;
}

}  // namespace outpost::fuzz
