#include "engine/cursor_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>

namespace outpost {
namespace {

constexpr size_t kMacBytes = 32;  // SHA-256
using Mac = std::array<unsigned char, kMacBytes>;

// The MAC covers the scope too, so a token issued for one scope is refused for another.
std::optional<Mac> mac_of(std::string_view key, std::string_view scope, std::string_view token) {
  std::string input;
  input.reserve(scope.size() + 1 + token.size());
  input.append(scope).push_back('\0');
  input.append(token);
  Mac mac{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(),
           &length) == nullptr ||
      length != kMacBytes) {
    return std::nullopt;
  }
  return mac;
}

}  // namespace

std::string seal_cursor_token(const protocol::CursorToken& token, std::string_view scope,
                              std::string_view key) {
  std::string sealed = token.SerializeAsString();
  std::optional<Mac> mac = mac_of(key, scope, sealed);
  // HMAC-SHA256 does not fail on valid arguments; an unsealed token is refused on return.
  if (!mac) return sealed;
  sealed.append(reinterpret_cast<const char*>(mac->data()), kMacBytes);
  return sealed;
}

Result<protocol::CursorToken> open_cursor_token(std::string_view sealed, std::string_view scope,
                                                std::string_view key) {
  const Status not_issued = error(ErrorCode::kInvalidArgument,
                                  cursor_not_issued(scope) + ": cursor token for '" +
                                      std::string(scope) + "' was not issued by this server");
  if (sealed.size() < kMacBytes) return not_issued;
  std::string_view token = sealed.substr(0, sealed.size() - kMacBytes);
  std::optional<Mac> expected = mac_of(key, scope, token);
  if (!expected) return error(ErrorCode::kInternal, "HMAC-SHA256 failed");
  if (CRYPTO_memcmp(expected->data(), sealed.data() + token.size(), kMacBytes) != 0) {
    return not_issued;
  }
  protocol::CursorToken parsed;
  if (!parsed.ParseFromArray(token.data(), static_cast<int>(token.size()))) return not_issued;
  return parsed;
}

std::string cursor_not_issued(std::string_view scope) {
  return "cursor_not_issued('" + std::string(scope) + "')";
}

bool names_cursor_not_issued(std::string_view message, std::string_view scope) {
  return message.find(cursor_not_issued(scope)) != std::string_view::npos;
}

}  // namespace outpost
