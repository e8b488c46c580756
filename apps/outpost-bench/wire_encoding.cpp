#include "apps/outpost-bench/wire_encoding.h"

#include <zdict.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters/demo_data.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"
#include "outpost/protocol.pb.h"
#include "support/random_ids.h"
#include "transport/column_page.h"
#include "transport/wire_codec.h"
#include "transport/zstd_codec.h"

namespace outpost::bench {
namespace {

namespace d = outpost::domain;

// A pull page, as the server sizes them for a fresh device (the bench's devices ask 2,000).
constexpr size_t kPageChanges = 2000;
// Single carried changes measured (each its own message).
constexpr size_t kSingleMessages = 1000;
// The dictionary: its capacity, and the records it is trained from (the first ones).
constexpr size_t kDictionaryBytes = 32 * 1024;
constexpr size_t kTrainingRecords = 5000;

struct Record {
  std::string collection;
  std::string key;
  std::string body;
};

// ~300-byte interaction records: a contact center's journal as a platform fills it.
std::vector<Record> interaction_records(uint64_t count) {
  static const char* const kFirst[] = {"Emma", "Lucas", "Olivia", "Noah",   "Louise", "Arthur",
                                       "Mila", "Jules", "Elena",  "Victor", "Lina",   "Adam"};
  static const char* const kLast[] = {"Peeters", "Janssens", "Maes",     "Jacobs",  "Mertens",
                                      "Willems", "Claes",    "Goossens", "Wouters", "De Smet"};
  static const char* const kQueues[] = {"Support", "Sales", "Billing", "Retention",
                                        "Tech L2", "VIP",   "Returns", "Onboarding"};
  static const char* const kCodes[] = {"Solved",       "Callback",  "Escalated",    "Info given",
                                       "Wrong number", "Complaint", "Order placed", "Cancelled"};
  static const char* const kWords[] = {
      "customer", "asked",    "about",   "the",    "invoice",  "delivery", "refund",  "promised",
      "callback", "tomorrow", "morning", "order",  "missing",  "item",     "changed", "address",
      "account",  "password", "reset",   "agreed", "discount", "of",       "ten",     "percent"};
  std::mt19937_64 random(19);
  std::vector<std::pair<std::string, std::string>> agents, queues, codes;
  for (int i = 0; i < 40; ++i) {
    agents.emplace_back(support::random_uuid(random),
                        std::string(kFirst[i % 12]) + "." + kLast[i % 10]);
  }
  for (const char* name : kQueues) queues.emplace_back(support::random_uuid(random), name);
  for (const char* name : kCodes) codes.emplace_back(support::random_uuid(random), name);
  std::vector<Record> out;
  out.reserve(count);
  int64_t started = 1'795'000'000'000;
  for (uint64_t i = 0; i < count; ++i) {
    d::Interaction interaction;
    interaction.set_id(support::random_uuid(random));
    interaction.set_media(static_cast<d::MediaType>(1 + random() % 4));
    interaction.set_direction(random() % 3 == 0 ? d::DIRECTION_OUTBOUND : d::DIRECTION_INBOUND);
    interaction.set_state(d::INTERACTION_QUALIFIED);
    interaction.set_peer_address("+32 4" + std::to_string(70 + random() % 30) + " " +
                                 std::to_string(100000 + random() % 900000));
    interaction.set_peer_name(std::string(kFirst[random() % 12]) + " " + kLast[random() % 10]);
    started += 5'000 + static_cast<int64_t>(random() % 60'000);
    const int duration = 20 + static_cast<int>(random() % 1800);
    interaction.set_started_ms(started);
    interaction.set_ended_ms(started + duration * 1000LL);
    interaction.set_duration_s(duration);
    const auto& agent = agents[random() % agents.size()];
    interaction.set_agent_user_id(agent.first);
    const auto& queue = queues[random() % queues.size()];
    interaction.set_queue_id(queue.first);
    interaction.set_queue_name(queue.second);
    const auto& code = codes[random() % codes.size()];
    interaction.set_wrapup_code_id(code.first);
    interaction.set_wrapup_code_name(code.second);
    std::string note;
    while (note.size() < 95) note += std::string(kWords[random() % std::size(kWords)]) + " ";
    note.resize(100);
    interaction.set_wrapup_notes(note);
    interaction.set_day("2026-11-" + std::to_string(10 + i * 20 / std::max<uint64_t>(1, count)));
    out.push_back({"interaction", interaction.id(), interaction.SerializeAsString()});
  }
  return out;
}

// The bench's own records: the demo contacts initial_sync syncs (demo_contact, seed 1).
std::vector<Record> demo_records(uint64_t count) {
  std::vector<Record> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    out.push_back({"contact", "contact-" + std::to_string(i), demo_contact(i, 1)});
  }
  return out;
}

// In the order of a server's snapshot, (priority, collection, key): contact-0, contact-1,
// contact-10, …; interactions by their random UUIDs.
std::vector<Record> by_key(std::vector<Record> records) {
  std::stable_sort(records.begin(), records.end(),
                   [](const Record& a, const Record& b) { return a.key < b.key; });
  return records;
}

// The ServerFrame of a snapshot page (or, with one record, a carried change).
std::string page_frame(const std::vector<Record>& records, size_t from, size_t to, bool carried) {
  protocol::ServerFrame frame;
  protocol::ScopeChanges* scope =
      carried ? frame.mutable_carried()->mutable_changes() : frame.mutable_pull()->add_scopes();
  scope->set_scope("org/bench");
  for (size_t i = from; i < to; ++i) {
    protocol::Change* change = scope->add_changes();
    change->set_collection(records[i].collection);
    change->set_key(records[i].key);
    change->set_op(protocol::Change::PUT);
    change->set_version(1000 + i);
    change->set_body(records[i].body);
  }
  scope->set_cursor(carried ? 1000 + to : 0);
  scope->set_head_seq(1000 + records.size());
  if (carried) frame.mutable_carried()->set_base(1000 + from);
  return frame.SerializeAsString();
}

// A page as the server sends it to a device that accepts column pages (decision 045,
// transport/column_page.h), checked to expand back to the very same frame.
Result<std::string> column_page(const std::string& plain_frame, uint32_t version) {
  protocol::ServerFrame frame;
  if (!frame.ParseFromString(plain_frame)) return error(ErrorCode::kInternal, "page frame");
  const bool large = frame.pull().scopes(0).changes_size() >= kMinColumnPageChanges;
  if (encode_column_pages(*frame.mutable_pull(), version) != (large ? 1 : 0)) {
    return error(ErrorCode::kInternal, "a page did not encode column-wise");
  }
  std::string out = frame.SerializeAsString();
  OUTPOST_RETURN_IF_ERROR(
      expand_column_pages(*frame.mutable_pull(), limits::kMaxDecompressedFrame));
  if (frame.SerializeAsString() != plain_frame) {
    return error(ErrorCode::kInternal, "a column page did not expand to its page");
  }
  return out;
}

struct Dictionary {
  std::string bytes;
  ZSTD_CDict* cdict = nullptr;
  ~Dictionary() { ZSTD_freeCDict(cdict); }
};

// Trained from the first records' bodies, as a server would from a sample of a collection.
Result<std::unique_ptr<Dictionary>> train(const std::vector<Record>& records) {
  std::string samples;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < std::min(records.size(), kTrainingRecords); ++i) {
    samples += records[i].body;
    sizes.push_back(records[i].body.size());
  }
  auto dictionary = std::make_unique<Dictionary>();
  dictionary->bytes.resize(kDictionaryBytes);
  size_t size =
      ZDICT_trainFromBuffer(dictionary->bytes.data(), dictionary->bytes.size(), samples.data(),
                            sizes.data(), static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(size)) {
    return error(ErrorCode::kInternal,
                 std::string("ZDICT_trainFromBuffer: ") + ZDICT_getErrorName(size));
  }
  dictionary->bytes.resize(size);
  dictionary->cdict = ZSTD_createCDict(dictionary->bytes.data(), size, kDefaultZstdLevel);
  if (dictionary->cdict == nullptr) return error(ErrorCode::kInternal, "ZSTD_createCDict");
  return dictionary;
}

Result<size_t> with_dictionary(const Dictionary& dictionary, const std::string& message) {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> context(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string out(ZSTD_compressBound(message.size()), '\0');
  size_t size = ZSTD_compress_usingCDict(context.get(), out.data(), out.size(), message.data(),
                                         message.size(), dictionary.cdict);
  if (ZSTD_isError(size)) return error(ErrorCode::kInternal, "ZSTD_compress_usingCDict");
  return size;
}

// The bytes of each encoding, summed over the messages measured.
struct Sizes {
  uint64_t stream = 0, message = 0, dictionary = 0, columns = 0, columns_045 = 0;
};

Status measure(BenchContext& context, const std::string& shape,
               const std::vector<Record>& records) {
  uint64_t raw = 0;
  for (const Record& record : records) raw += record.body.size();
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<Dictionary> dictionary, train(records));
  Sizes pages;
  StreamCompressor stream;
  for (size_t from = 0; from < records.size(); from += kPageChanges) {
    const size_t to = std::min(records.size(), from + kPageChanges);
    const std::string frame = page_frame(records, from, to, false);
    OUTPOST_ASSIGN_OR_RETURN(std::string one, stream.compress_message(frame));
    pages.stream += one.size();
    OUTPOST_ASSIGN_OR_RETURN(std::string two, zstd_compress_message_frame(frame));
    pages.message += two.size();
    OUTPOST_ASSIGN_OR_RETURN(size_t with, with_dictionary(*dictionary, frame));
    pages.dictionary += with;
    OUTPOST_ASSIGN_OR_RETURN(std::string laid, column_page(frame, kColumnPageVersion));
    OUTPOST_ASSIGN_OR_RETURN(std::string columns, zstd_compress_message_frame(laid));
    pages.columns += columns.size();
    // Decision 045's format (version 1, no transforms), what older devices get.
    OUTPOST_ASSIGN_OR_RETURN(std::string laid_045, column_page(frame, 1));
    OUTPOST_ASSIGN_OR_RETURN(std::string columns_045, zstd_compress_message_frame(laid_045));
    pages.columns_045 += columns_045.size();
  }
  Sizes single;
  uint64_t single_raw = 0;
  StreamCompressor carried_stream;
  const size_t singles = std::min(records.size(), kSingleMessages);
  for (size_t i = 0; i < singles; ++i) {
    single_raw += records[i].body.size();
    const std::string frame = page_frame(records, i, i + 1, true);
    OUTPOST_ASSIGN_OR_RETURN(std::string one, carried_stream.compress_message(frame));
    single.stream += one.size();
    OUTPOST_ASSIGN_OR_RETURN(std::string two, zstd_compress_message_frame(frame));
    single.message += two.size();
    OUTPOST_ASSIGN_OR_RETURN(size_t with, with_dictionary(*dictionary, frame));
    single.dictionary += with;
  }
  const auto params = [&](uint64_t count, uint64_t messages) {
    std::vector<Param> out = context.common_params();
    for (Param p :
         {param("shape", shape), param("records", count), param("messages", messages),
          param("avg_record_bytes", raw / std::max<uint64_t>(1, records.size())),
          param("dictionary_bytes", static_cast<uint64_t>(dictionary->bytes.size())),
          param("trained_on", static_cast<uint64_t>(std::min(records.size(), kTrainingRecords))),
          param("baseline_is", "raw protobuf record bodies")}) {
      out.push_back(std::move(p));
    }
    return out;
  };
  const uint64_t page_count = (records.size() + kPageChanges - 1) / kPageChanges;
  const auto report = [&](const std::string& name, uint64_t bytes, uint64_t baseline,
                          std::vector<Param> with) {
    context.report.add({"wire_encoding." + shape + "." + name, static_cast<double>(bytes), "bytes",
                        static_cast<double>(baseline),
                        baseline > 0 ? static_cast<double>(bytes) / baseline : 0, std::move(with)});
  };
  report("pages.stream_format", pages.stream, raw, params(records.size(), page_count));
  report("pages.message_format", pages.message, raw, params(records.size(), page_count));
  // The dictionary travels once per device (then cached): counted in.
  report("pages.dictionary", pages.dictionary + dictionary->bytes.size(), raw,
         params(records.size(), page_count));
  report("pages.columns", pages.columns, raw, params(records.size(), page_count));
  report("pages.columns_045", pages.columns_045, raw, params(records.size(), page_count));
  report("single.stream_format", single.stream, single_raw, params(singles, singles));
  report("single.message_format", single.message, single_raw, params(singles, singles));
  report("single.dictionary", single.dictionary, single_raw, params(singles, singles));
  return Status::Ok();
}

}  // namespace

Status run_wire_encoding(BenchContext& context, uint64_t records) {
  OUTPOST_RETURN_IF_ERROR(measure(context, "demo", demo_records(records)));
  OUTPOST_RETURN_IF_ERROR(measure(context, "interaction", interaction_records(records)));
  // As a server's snapshot sends them: in key order (decision 045 measured both orders).
  OUTPOST_RETURN_IF_ERROR(measure(context, "demo_key_order", by_key(demo_records(records))));
  return measure(context, "interaction_key_order", by_key(interaction_records(records)));
}

}  // namespace outpost::bench
