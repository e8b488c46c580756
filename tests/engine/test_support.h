// Helpers shared by the engine tests: temporary directories, records filled with
// deterministic values, and server-change builders.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "outpost/protocol.pb.h"

namespace outpost::testing {

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Sets every field of `message` (recursively, repeated and map fields included) to a value
// derived from `seed`, so two calls with the same seed produce equal messages.
void fill_fields(google::protobuf::Message& message, int seed);

// A PUT change of `record` at `version`.
protocol::Change put_change(const std::string& collection, const std::string& key,
                            const google::protobuf::Message& record, uint64_t version);
protocol::Change delete_change(const std::string& collection, const std::string& key,
                               uint64_t version);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace outpost::testing
