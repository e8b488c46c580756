#include "transport/column_page.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/limits.h"

namespace outpost {

namespace {

using Changes = google::protobuf::RepeatedPtrField<protocol::Change>;

// Tags below this are looked up in an array (field numbers below 32: every domain field).
constexpr uint32_t kSmallTags = 256;
constexpr uint32_t kKeyTag = (1 << 3) | 2;  // field 1, length-delimited: a record's id
// What the decoder reserves for a body at most, before the data proves itself.
constexpr size_t kBodyReserveCap = 4096;

size_t varint_size(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

inline void put_varint(std::string& out, uint64_t value) {
  if (value < 0x80) {
    out.push_back(static_cast<char>(value));
    return;
  }
  char buffer[10];
  size_t n = 0;
  while (value >= 0x80) {
    buffer[n++] = static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  buffer[n++] = static_cast<char>(value);
  out.append(buffer, n);
}

uint64_t zigzag(uint64_t delta) {
  return (delta << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(delta) >> 63);
}
uint64_t unzigzag(uint64_t value) {
  return (value >> 1) ^ (~(value & 1) + 1);
}

// Bytes read front to back; every read checks what is left.
struct Reader {
  const char* at;
  const char* end;

  explicit Reader(std::string_view bytes) : at(bytes.data()), end(bytes.data() + bytes.size()) {}
  size_t left() const { return static_cast<size_t>(end - at); }
  // A varint of at most 10 bytes whose value fits 64 bits; its encoded size in `size`.
  bool varint(uint64_t& value, size_t* size = nullptr) {
    if (at < end && static_cast<uint8_t>(*at) < 0x80) {  // most are one byte
      value = static_cast<uint8_t>(*at++);
      if (size != nullptr) *size = 1;
      return true;
    }
    value = 0;
    const char* start = at;
    for (int shift = 0; shift < 70 && at < end; shift += 7) {
      const auto byte = static_cast<uint8_t>(*at++);
      if (shift == 63 && byte > 1) return false;
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        if (size != nullptr) *size = static_cast<size_t>(at - start);
        return true;
      }
    }
    return false;
  }
  // A varint exactly as protobuf writes it (its shortest form): re-laid, it comes back the same.
  bool canonical_varint(uint64_t& value) {
    size_t size = 0;
    return varint(value, &size) && size == varint_size(value);
  }
  bool take(size_t count, std::string_view& out) {
    if (count > left()) return false;
    out = std::string_view(at, count);
    at += count;
    return true;
  }
};

// Decision 053's transforms (FieldColumn.transform).
enum Transform : uint32_t {
  kPlain = 0,
  kFromField = 1,  // wire type 0: against the body's previous wire-type-0 value
  kRaw = 2,        // wire type 0: the value as it is
  kUuid = 1,       // wire type 2: 16 binary bytes, front-coded
};
constexpr size_t kUuidText = 36;
constexpr size_t kUuidBytes = 16;
using Uuid = std::array<char, kUuidBytes>;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: it would not come back byte for byte
}

bool uuid_dash(size_t at) {
  return at == 8 || at == 13 || at == 18 || at == 23;
}

// `text` as 16 bytes, if it is a UUID exactly as uuid_text writes it.
bool parse_uuid(std::string_view text, Uuid& out) {
  if (text.size() != kUuidText) return false;
  size_t n = 0;
  for (size_t at = 0; at < kUuidText; ++at) {
    if (uuid_dash(at)) {
      if (text[at] != '-') return false;
      continue;
    }
    const int high = hex_digit(text[at]);
    const int low = hex_digit(text[++at]);
    if (high < 0 || low < 0) return false;
    out[n++] = static_cast<char>(high << 4 | low);
  }
  return true;
}

void append_uuid_text(std::string& out, const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  char text[kUuidText];
  size_t at = 0;
  for (size_t n = 0; n < kUuidBytes; ++n) {
    if (uuid_dash(at)) text[at++] = '-';
    const auto byte = static_cast<uint8_t>(uuid[n]);
    text[at++] = kHex[byte >> 4];
    text[at++] = kHex[byte & 15];
  }
  out.append(text, kUuidText);
}

size_t shared_prefix(const char* a, const char* b, size_t limit) {
  size_t shared = 0;
  while (shared < limit && a[shared] == b[shared]) ++shared;
  return shared;
}

bool known_wire_type(uint64_t tag) {
  const uint64_t wire = tag & 7;
  return (tag >> 3) != 0 && (wire == 0 || wire == 1 || wire == 2 || wire == 5);
}

// ---- encoding (the server) ----

class Encoder {
 public:
  explicit Encoder(bool transforms) : transforms_(transforms) { small_.fill(-1); }

  // One change's body into the shapes and field columns; false if it is not canonical
  // protobuf. `first` gets the value of its first field when that is field 1, wire type 2.
  bool body(std::string_view body, std::string_view& first) {
    Reader in(body);
    bool at_first = true;
    uint64_t body_last = 0;  // the body's previous wire-type-0 value (kFromField)
    first = {};
    while (in.left() > 0) {
      uint64_t tag = 0;
      if (!in.canonical_varint(tag) || tag > UINT32_MAX || !known_wire_type(tag)) return false;
      Field* field = find(static_cast<uint32_t>(tag));
      if (field == nullptr) return false;
      put_varint(page_.shapes, tag);
      uint64_t value = 0;
      std::string_view bytes;
      switch (tag & 7) {
        case 0:
          if (!in.canonical_varint(value)) return false;
          put_varint(field->values, zigzag(value - field->last));
          if (transforms_) {
            put_varint(field->from_field, zigzag(value - body_last));
            put_varint(field->raw, value);
          }
          field->last = value;
          body_last = value;
          break;
        case 1:
        case 5:
          if (!in.take((tag & 7) == 1 ? 8 : 4, bytes)) return false;
          field->values.append(bytes);
          break;
        default:
          if (!in.canonical_varint(value) || !in.take(value, bytes)) return false;
          {
            // Front coding: the bytes this value shares with the column's previous one.
            const size_t limit = std::min(bytes.size(), field->previous.size());
            size_t shared = 0;
            while (shared < limit && bytes[shared] == field->previous[shared]) ++shared;
            put_varint(field->lengths, shared);
            put_varint(field->lengths, bytes.size() - shared);
            field->values.append(bytes.substr(shared));
            field->previous = bytes;  // a view of the caller's body, alive while encoding
          }
          if (transforms_ && field->uuids) uuid(*field, bytes);
          if (at_first && tag == kKeyTag) first = bytes;
      }
      at_first = false;
    }
    put_varint(page_.shapes, 0);
    return true;
  }

  bool change(const protocol::Change& change) {
    if (change.op() != protocol::Change::PUT && change.op() != protocol::Change::DELETE) {
      return false;
    }
    std::string_view first;
    if (!body(change.body(), first)) return false;
    put_varint(page_.collection, collection_index(change.collection()));
    put_varint(page_.ops, static_cast<uint64_t>(change.op()));
    put_varint(page_.versions, zigzag(change.version() - last_version_));
    last_version_ = change.version();
    if (!first.empty() && first == change.key()) {
      put_varint(page_.key_lengths, 0);
    } else {
      put_varint(page_.key_lengths, change.key().size() + 1);
      page_.key_bytes += change.key();
    }
    return true;
  }

  protocol::ColumnPage finish(int count) {
    protocol::ColumnPage out;
    out.set_count(static_cast<uint32_t>(count));
    for (std::string& name : names_) out.add_collections(std::move(name));
    out.set_collection(std::move(page_.collection));
    out.set_ops(std::move(page_.ops));
    out.set_versions(std::move(page_.versions));
    out.set_key_lengths(std::move(page_.key_lengths));
    out.set_key_bytes(std::move(page_.key_bytes));
    out.set_shapes(std::move(page_.shapes));
    for (Field& field : fields_) {
      protocol::FieldColumn* column = out.add_fields();
      column->set_tag(field.tag);
      if (transforms_) choose(field);
      if (field.transform != kPlain) column->set_transform(field.transform);
      column->set_lengths(std::move(field.lengths));
      column->set_values(std::move(field.values));
    }
    return out;
  }

 private:
  struct Field {
    uint32_t tag = 0;
    std::string lengths, values;
    uint64_t last = 0;
    std::string_view previous;  // wire type 2: the column's previous value
    // With transforms, the column laid out each other way too; the smallest is sent.
    uint32_t transform = kPlain;
    std::string from_field, raw;            // wire type 0
    bool uuids = true;                      // wire type 2: every value a UUID so far
    std::string uuid_lengths, uuid_values;  // wire type 2
    Uuid previous_uuid{};
  };

  void uuid(Field& field, std::string_view text) {
    Uuid bytes;
    if (!parse_uuid(text, bytes)) {
      field.uuids = false;
      std::string().swap(field.uuid_lengths);
      std::string().swap(field.uuid_values);
      return;
    }
    const size_t shared = shared_prefix(bytes.data(), field.previous_uuid.data(), kUuidBytes);
    put_varint(field.uuid_lengths, shared);
    field.uuid_values.append(bytes.data() + shared, kUuidBytes - shared);
    field.previous_uuid = bytes;
  }

  // The smallest layout of the column (ties keep the plain one): zstd compresses what is
  // left after it, and a smaller input has, in practice, less left to compress.
  static void choose(Field& field) {
    if ((field.tag & 7) == 0) {
      if (field.from_field.size() < std::min(field.values.size(), field.raw.size())) {
        field.transform = kFromField;
        field.values.swap(field.from_field);
      } else if (field.raw.size() < field.values.size()) {
        field.transform = kRaw;
        field.values.swap(field.raw);
      }
    } else if ((field.tag & 7) == 2 && field.uuids &&
               field.uuid_lengths.size() + field.uuid_values.size() <
                   field.lengths.size() + field.values.size()) {
      field.transform = kUuid;
      field.lengths.swap(field.uuid_lengths);
      field.values.swap(field.uuid_values);
    }
  }
  struct Columns {
    std::string collection, ops, versions, key_lengths, key_bytes, shapes;
  };

  Field* find(uint32_t tag) {
    int16_t* slot = tag < kSmallTags ? &small_[tag] : nullptr;
    if (slot != nullptr && *slot >= 0) return &fields_[static_cast<size_t>(*slot)];
    if (slot == nullptr) {
      auto it = large_.find(tag);
      if (it != large_.end()) return &fields_[it->second];
    }
    if (fields_.size() >= static_cast<size_t>(kMaxColumnPageFields)) return nullptr;
    if (slot != nullptr) {
      *slot = static_cast<int16_t>(fields_.size());
    } else {
      large_[tag] = fields_.size();
    }
    fields_.push_back(Field{});
    fields_.back().tag = tag;
    return &fields_.back();
  }

  size_t collection_index(const std::string& name) {
    if (last_name_ < names_.size() && names_[last_name_] == name) return last_name_;
    auto it = std::find(names_.begin(), names_.end(), name);
    last_name_ = static_cast<size_t>(it - names_.begin());
    if (it == names_.end()) names_.push_back(name);
    return last_name_;
  }

  const bool transforms_;
  Columns page_;
  std::vector<Field> fields_;
  std::array<int16_t, kSmallTags> small_{};
  std::map<uint32_t, size_t> large_;
  std::vector<std::string> names_;
  size_t last_name_ = 0;
  uint64_t last_version_ = 0;
};

// ---- decoding (the device) ----

Status refuse(const std::string& why) {
  return error(ErrorCode::kInvalidArgument, "column page: " + why);
}

struct FieldReader {
  uint32_t tag;
  uint32_t transform;
  Reader lengths;
  Reader values;
  uint64_t last = 0;
  Uuid previous_uuid{};  // kUuid
  // Wire type 2: where the column's previous value is (front coding): in the body of an
  // earlier change (arena strings, not modified again) or of the one being built.
  const std::string* previous_in = nullptr;
  size_t previous_at = 0;
  size_t previous_size = 0;
};

class Decoder {
 public:
  Decoder(const protocol::ColumnPage& page, size_t max_bytes)
      : page_(page),
        max_bytes_(max_bytes),
        collection_(page.collection()),
        ops_(page.ops()),
        versions_(page.versions()),
        key_lengths_(page.key_lengths()),
        key_bytes_(page.key_bytes()),
        shapes_(page.shapes()) {
    small_.fill(-1);
  }

  Status fields() {
    if (page_.fields_size() > kMaxColumnPageFields) {
      return refuse(std::to_string(page_.fields_size()) + " field columns, above " +
                    std::to_string(kMaxColumnPageFields));
    }
    fields_.reserve(static_cast<size_t>(page_.fields_size()));
    for (const protocol::FieldColumn& column : page_.fields()) {
      if (!known_wire_type(column.tag())) {
        return refuse("field column with tag " + std::to_string(column.tag()));
      }
      if ((column.tag() & 7) != 2 && !column.lengths().empty()) {
        return refuse("lengths in a column of wire type " + std::to_string(column.tag() & 7));
      }
      const uint32_t wire = column.tag() & 7;
      const uint32_t most = wire == 0 ? kRaw : wire == 2 ? kUuid : kPlain;
      const uint32_t transform = column.transform();
      if (transform > most) {
        return refuse("transform " + std::to_string(transform) + " on a column of wire type " +
                      std::to_string(wire));
      }
      fields_.push_back(
          FieldReader{column.tag(), transform, Reader(column.lengths()), Reader(column.values())});
    }
    std::vector<std::pair<uint32_t, size_t>> sorted;
    for (size_t i = 0; i < fields_.size(); ++i) sorted.emplace_back(fields_[i].tag, i);
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i].first == sorted[i - 1].first) {
        return refuse("tag " + std::to_string(sorted[i].first) + " has two columns");
      }
    }
    for (const auto& [tag, index] : sorted) {
      if (tag < kSmallTags) {
        small_[tag] = static_cast<int16_t>(index);
      } else {
        large_.emplace_back(tag, index);
      }
    }
    return Status::Ok();
  }

  Status change(const std::vector<std::string_view>& names, protocol::Change& out) {
    uint64_t index = 0, op = 0, delta = 0, key_length = 0;
    if (!collection_.varint(index) || !ops_.varint(op) || !versions_.varint(delta) ||
        !key_lengths_.varint(key_length)) {
      return refuse("a per-change column ends before its count");
    }
    if (index >= names.size()) return refuse("collection index " + std::to_string(index));
    if (op != protocol::Change::PUT && op != protocol::Change::DELETE) {
      return refuse("op " + std::to_string(op));
    }
    version_ += unzigzag(delta);
    size_t first_at = 0, first_size = 0;
    bool has_first = false;
    // Built in place (no copy): the record's body, sized like the previous one (capped: a
    // hostile page's one huge body must not make every later record reserve as much).
    std::string& body = *out.mutable_body();
    body.reserve(std::min(last_body_size_, kBodyReserveCap));
    OUTPOST_RETURN_IF_ERROR(this->body(body, first_at, first_size, has_first));
    last_body_size_ = body.size();
    std::string_view key;
    if (key_length == 0) {
      if (!has_first) return refuse("a key taken from a body whose first field is not field 1");
      key = std::string_view(body).substr(first_at, first_size);
    } else if (!key_bytes_.take(key_length - 1, key)) {
      return refuse("a key longer than its column");
    }
    if (!spend(key.size() + names[index].size())) return too_large();
    out.set_collection(names[index].data(), names[index].size());
    out.set_key(key.data(), key.size());
    out.set_op(static_cast<protocol::Change::Op>(op));
    out.set_version(version_);
    return Status::Ok();
  }

  // Every column read to its end: a count that lied leaves bytes behind.
  Status consumed() const {
    const std::pair<const char*, const Reader*> columns[] = {
        {"collection", &collection_}, {"ops", &ops_},
        {"versions", &versions_},     {"key_lengths", &key_lengths_},
        {"key_bytes", &key_bytes_},   {"shapes", &shapes_}};
    for (const auto& [name, reader] : columns) {
      if (reader->left() > 0) return refuse(std::string(name) + " holds more than its count");
    }
    for (const FieldReader& field : fields_) {
      if (field.lengths.left() > 0 || field.values.left() > 0) {
        return refuse("field column " + std::to_string(field.tag) +
                      " holds more than its shapes use");
      }
    }
    return Status::Ok();
  }

 private:
  // Counts `bytes` of output against max_bytes; false past it (then too_large()).
  bool spend(size_t bytes) {
    if (bytes > max_bytes_ - spent_) return false;
    spent_ += bytes;
    return true;
  }
  [[gnu::cold]] Status too_large() const {
    return error(ErrorCode::kTooLarge,
                 "column page: expands beyond " + std::to_string(max_bytes_) + " bytes");
  }

  FieldReader* find(uint64_t tag) {
    if (tag < kSmallTags) {
      const int16_t index = small_[tag];
      return index < 0 ? nullptr : &fields_[static_cast<size_t>(index)];
    }
    auto it = std::lower_bound(large_.begin(), large_.end(), std::make_pair(tag, size_t{0}));
    if (it == large_.end() || it->first != tag) return nullptr;
    return &fields_[it->second];
  }

  // One body rebuilt into `out` from its shape; the first field's value located. Each
  // field's bytes are counted against max_bytes before they are appended.
  Status body(std::string& out, size_t& first_at, size_t& first_size, bool& has_first) {
    uint64_t body_last = 0;  // the body's previous wire-type-0 value (kFromField)
    for (bool at_first = true;; at_first = false) {
      uint64_t tag = 0;
      if (!shapes_.varint(tag)) return refuse("shapes end inside a body");
      if (tag == 0) return Status::Ok();
      FieldReader* field = find(tag);
      if (field == nullptr) return refuse("tag " + std::to_string(tag) + " has no column");
      uint64_t value = 0;
      std::string_view bytes;
      switch (tag & 7) {
        case 0:
          if (!field->values.varint(value)) return refuse("a varint column ends early");
          if (field->transform == kPlain) {
            field->last += unzigzag(value);
          } else {
            field->last = field->transform == kFromField ? body_last + unzigzag(value) : value;
          }
          body_last = field->last;
          if (!spend(varint_size(tag) + varint_size(field->last))) return too_large();
          put_varint(out, tag);
          put_varint(out, field->last);
          break;
        case 1:
        case 5:
          if (!field->values.take((tag & 7) == 1 ? 8 : 4, bytes)) {
            return refuse("a fixed-width column ends early");
          }
          if (!spend(varint_size(tag) + bytes.size())) return too_large();
          put_varint(out, tag);
          out.append(bytes);
          break;
        default: {
          if (field->transform == kUuid) {
            OUTPOST_RETURN_IF_ERROR(
                uuid(*field, tag, at_first, out, first_at, first_size, has_first));
            break;
          }
          uint64_t shared = 0;
          if (!field->lengths.varint(shared) || !field->lengths.varint(value)) {
            return refuse("a lengths column ends early");
          }
          if (shared > field->previous_size) {
            return refuse("a value sharing more bytes than the previous one holds");
          }
          if (!field->values.take(value, bytes)) return refuse("a value longer than its column");
          const uint64_t size = shared + bytes.size();
          if (!spend(varint_size(tag) + varint_size(size) + size)) return too_large();
          put_varint(out, tag);
          put_varint(out, size);
          if (at_first && tag == kKeyTag) {
            has_first = true;
            first_at = out.size();
            first_size = size;
          }
          const size_t at = out.size();
          // The overload that copies from a string allows that string to be `out` itself.
          if (shared > 0) out.append(*field->previous_in, field->previous_at, shared);
          out.append(bytes);
          field->previous_in = &out;
          field->previous_at = at;
          field->previous_size = size;
        }
      }
    }
  }

  // One kUuid value: its bytes after those it shares with the column's previous one, written
  // out as the 36 characters it was.
  Status uuid(FieldReader& field, uint64_t tag, bool at_first, std::string& out, size_t& first_at,
              size_t& first_size, bool& has_first) {
    uint64_t shared = 0;
    std::string_view rest;
    if (!field.lengths.varint(shared)) return refuse("a lengths column ends early");
    if (shared > kUuidBytes) return refuse("a UUID sharing " + std::to_string(shared) + " bytes");
    if (!field.values.take(kUuidBytes - shared, rest)) return refuse("a UUID column ends early");
    std::copy(rest.begin(), rest.end(), field.previous_uuid.begin() + static_cast<long>(shared));
    if (!spend(varint_size(tag) + 1 + kUuidText)) return too_large();
    put_varint(out, tag);
    put_varint(out, kUuidText);
    if (at_first && tag == kKeyTag) {
      has_first = true;
      first_at = out.size();
      first_size = kUuidText;
    }
    append_uuid_text(out, field.previous_uuid);
    return Status::Ok();
  }

  const protocol::ColumnPage& page_;
  const size_t max_bytes_;
  size_t spent_ = 0;
  Reader collection_, ops_, versions_, key_lengths_, key_bytes_, shapes_;
  std::vector<FieldReader> fields_;
  std::array<int16_t, kSmallTags> small_{};
  std::vector<std::pair<uint64_t, size_t>> large_;  // sorted by tag
  uint64_t version_ = 0;
  size_t last_body_size_ = 0;
};

}  // namespace

uint32_t column_page_version(const protocol::PullRequest& pull) {
  if (!pull.accepts_column_pages()) return 0;
  return std::clamp(pull.column_page_version(), uint32_t{1}, kColumnPageVersion);
}

std::optional<protocol::ColumnPage> encode_column_page(const Changes& changes, uint32_t version) {
  Encoder encoder(version >= 2);
  for (const protocol::Change& change : changes) {
    if (!encoder.change(change)) return std::nullopt;
  }
  return encoder.finish(changes.size());
}

int encode_column_pages(protocol::PullResponse& response, uint32_t version) {
  int encoded = 0;
  for (protocol::ScopeChanges& scope : *response.mutable_scopes()) {
    if (scope.changes_size() < kMinColumnPageChanges) continue;
    std::optional<protocol::ColumnPage> page = encode_column_page(scope.changes(), version);
    if (!page) continue;
    *scope.mutable_columns() = std::move(*page);
    scope.clear_changes();
    ++encoded;
  }
  return encoded;
}

Status decode_column_page(const protocol::ColumnPage& page, size_t max_changes, size_t max_bytes,
                          Changes& out) {
  if (page.count() > max_changes) {
    return refuse(std::to_string(page.count()) + " changes, above " + std::to_string(max_changes));
  }
  if (static_cast<size_t>(page.collections_size()) > page.count()) {
    return refuse("more collection names than changes");
  }
  Decoder decoder(page, max_bytes);
  OUTPOST_RETURN_IF_ERROR(decoder.fields());
  std::vector<std::string_view> names(page.collections().begin(), page.collections().end());
  out.Reserve(out.size() + static_cast<int>(page.count()));
  for (uint32_t i = 0; i < page.count(); ++i) {
    OUTPOST_RETURN_IF_ERROR(decoder.change(names, *out.Add()));
  }
  return decoder.consumed();
}

Status expand_column_pages(protocol::PullResponse& response, size_t max_bytes) {
  size_t left = max_bytes;
  for (protocol::ScopeChanges& scope : *response.mutable_scopes()) {
    if (!scope.has_columns()) continue;
    if (scope.changes_size() > 0) return refuse("a scope with both changes and columns");
    OUTPOST_RETURN_IF_ERROR(decode_column_page(scope.columns(), limits::kMaxChangesPerBatch, left,
                                               *scope.mutable_changes()));
    for (const protocol::Change& change : scope.changes()) {
      left -=
          std::min(left, change.collection().size() + change.key().size() + change.body().size());
    }
    scope.clear_columns();
  }
  return Status::Ok();
}

}  // namespace outpost
