// Child processes for end-to-end tests: the real outpost-server and outpost binaries,
// started with posix_spawn, output captured to files, killed and reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace outpost::support {

class Process {
 public:
  // Starts argv[0] with the arguments; stdout and stderr go to `output_path`.
  Process(const std::vector<std::string>& argv, const std::string& output_path);
  ~Process();  // SIGKILLs and reaps a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int number);
  // Waits for the exit; returns the exit code, or 128 + signal when killed; -1 on timeout.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool running();
  std::string output() const;
  // Waits until the output contains `text`; false on timeout.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string output_path_;
};

// Runs a command to completion; returns its exit code and stdout.
int run_command(const std::vector<std::string>& argv, std::string* out,
                std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace outpost::support
