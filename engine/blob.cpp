#include "engine/blob.h"

#include <openssl/evp.h>

namespace outpost {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

using google::protobuf::FieldDescriptor;

const FieldOptions& field_options(const FieldDescriptor* field) {
  return field->options().GetExtension(outpost::field);
}

void collect(const google::protobuf::Message& message, std::vector<BlobRef>& out, int depth) {
  if (depth > 8) return;  // records are shallow; a bound keeps a hostile nesting cheap
  const auto* descriptor = message.GetDescriptor();
  const auto* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int j = 0; j < reflection->FieldSize(message, field); ++j) {
          collect(reflection->GetRepeatedMessage(message, field, j), out, depth + 1);
        }
      } else if (reflection->HasField(message, field)) {
        collect(reflection->GetMessage(message, field), out, depth + 1);
      }
      continue;
    }
    const FieldOptions& options = field_options(field);
    if (options.blob() == BLOB_NONE || field->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
        field->is_repeated()) {
      continue;
    }
    auto hash = BlobHash::parse(reflection->GetString(message, field));
    if (!hash.ok()) continue;
    BlobRef ref;
    ref.hash = *hash;
    ref.kind = options.blob();
    if (const auto* source = descriptor->FindFieldByName(options.blob_source());
        source != nullptr && source->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
        !source->is_repeated()) {
      ref.source_uri = reflection->GetString(message, source);
    }
    if (const auto* size = descriptor->FindFieldByName(options.blob_size());
        size != nullptr && size->cpp_type() == FieldDescriptor::CPPTYPE_INT64 &&
        !size->is_repeated()) {
      const int64_t value = reflection->GetInt64(message, size);
      ref.size = value > 0 ? static_cast<uint64_t>(value) : 0;
    }
    out.push_back(std::move(ref));
  }
}

bool any_blob_field(const google::protobuf::Descriptor* descriptor, int depth) {
  if (depth > 8) return false;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (any_blob_field(field->message_type(), depth + 1)) return true;
    } else if (field_options(field).blob() != BLOB_NONE) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<BlobHash> BlobHash::parse(std::string_view hex) {
  if (hex.size() != kHexLength) {
    return error(ErrorCode::kInvalidArgument, "a blob hash is 64 lowercase hex digits");
  }
  std::array<uint8_t, kBytes> bytes{};
  for (size_t i = 0; i < kBytes; ++i) {
    const int high = hex_value(hex[2 * i]);
    const int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return error(ErrorCode::kInvalidArgument, "a blob hash is 64 lowercase hex digits");
    }
    bytes[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return BlobHash(bytes);
}

std::string BlobHash::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(kHexLength, '0');
  for (size_t i = 0; i < kBytes; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return out;
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size());
}

BlobHash Sha256::finish() {
  std::array<uint8_t, BlobHash::kBytes> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_->md, digest.data(), &length);
  return BlobHash(digest);
}

BlobHash sha256_of(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.finish();
}

std::vector<BlobRef> blob_refs(const google::protobuf::Message& record) {
  std::vector<BlobRef> out;
  collect(record, out, 0);
  return out;
}

bool may_reference_blobs(const google::protobuf::Descriptor* descriptor) {
  return any_blob_field(descriptor, 0);
}

}  // namespace outpost
