#include "apps/outpost-server/login_vault.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace outpost::server_app {
namespace {

constexpr std::string_view kLabel = "outpost platform logins v1";
constexpr std::string_view kMagic = "OPL1";
constexpr size_t kNonce = 12, kTag = 16;
constexpr size_t kMaxSealed = 64 * 1024;

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

bool plain_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return name != "." && name != "..";
}

std::string bound_to(const AgentRef& agent) {
  return agent.tenant + "/" + agent.user;
}

Result<std::string> seal(const std::string& key, const std::string& aad, std::string_view plain) {
  std::string nonce(kNonce, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonce) != 1) {
    return error(ErrorCode::kInternal, "no randomness for a nonce");
  }
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(plain.size(), '\0');
  std::string tag(kTag, '\0');
  int len = 0, total = 0;
  auto* k = reinterpret_cast<const unsigned char*>(key.data());
  auto* n = reinterpret_cast<const unsigned char*>(nonce.data());
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, n) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) == 1;
  total = len;
  ok = ok &&
       EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) ==
           1 &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, tag.data()) == 1;
  if (!ok) return error(ErrorCode::kInternal, "sealing a login failed");
  return std::string(kMagic) + nonce + out + tag;
}

std::optional<std::string> open_sealed(const std::string& key, const std::string& aad,
                                       const std::string& sealed) {
  if (sealed.size() < kMagic.size() + kNonce + kTag || sealed.rfind(kMagic, 0) != 0) {
    return std::nullopt;
  }
  const std::string nonce = sealed.substr(kMagic.size(), kNonce);
  std::string tag = sealed.substr(sealed.size() - kTag);
  const std::string cipher =
      sealed.substr(kMagic.size() + kNonce, sealed.size() - kMagic.size() - kNonce - kTag);
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(cipher.size(), '\0');
  int len = 0;
  auto* k = reinterpret_cast<const unsigned char*>(key.data());
  auto* n = reinterpret_cast<const unsigned char*>(nonce.data());
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, n) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                              reinterpret_cast<const unsigned char*>(cipher.data()),
                              static_cast<int>(cipher.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) == 1;
  int last = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                                 &last) == 1;
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

LoginVault::LoginVault(std::string dir, std::string_view token_key) : dir_(std::move(dir)) {
  unsigned char derived[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), token_key.data(), static_cast<int>(token_key.size()),
       reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(), derived, &length);
  key_.assign(reinterpret_cast<const char*>(derived), 32);
}

Result<std::string> LoginVault::path_of(const AgentRef& agent) const {
  if (!plain_name(agent.tenant) || !plain_name(agent.user)) {
    return error(ErrorCode::kInvalidArgument, "not a plain tenant and user name");
  }
  return dir_ + "/" + agent.tenant + "+" + agent.user + ".login";
}

Status LoginVault::save(const AgentRef& agent, std::string_view secret) {
  OUTPOST_ASSIGN_OR_RETURN(std::string path, path_of(agent));
  OUTPOST_ASSIGN_OR_RETURN(std::string sealed, seal(key_, bound_to(agent), secret));
  std::lock_guard lock(mutex_);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  ::chmod(dir_.c_str(), 0700);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return error(ErrorCode::kIo, "cannot write " + tmp);
  const bool written =
      ::write(fd, sealed.data(), sealed.size()) == static_cast<ssize_t>(sealed.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return error(ErrorCode::kIo, "cannot write " + path);
  }
  return Status::Ok();
}

Result<std::optional<std::string>> LoginVault::load(const AgentRef& agent) {
  OUTPOST_ASSIGN_OR_RETURN(std::string path, path_of(agent));
  std::lock_guard lock(mutex_);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  std::optional<std::string> opened;
  if (std::filesystem::file_size(path, ec) <= kMaxSealed && !ec) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    opened = open_sealed(key_, bound_to(agent), text.str());
  }
  if (!opened) std::filesystem::remove(path, ec);  // another key, tampered: log in again
  return opened;
}

Status LoginVault::forget(const AgentRef& agent) {
  OUTPOST_ASSIGN_OR_RETURN(std::string path, path_of(agent));
  std::lock_guard lock(mutex_);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) return error(ErrorCode::kIo, "cannot remove " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace outpost::server_app
