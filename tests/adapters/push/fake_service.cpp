#include "tests/adapters/push/fake_service.h"

#include <curl/curl.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace outpost::push::testing {
namespace {

size_t append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

FakeService::FakeService(const std::string& kind) {
  char tmpl[] = "/tmp/outpost-fake-push-XXXXXX";
  dir_ = mkdtemp(tmpl);
  log_ = dir_ + "/fake.log";
  process_ = std::make_unique<outpost::support::Process>(
      std::vector<std::string>{"/usr/bin/python3", OUTPOST_FAKE_PUSH_SCRIPT, kind, dir_ + "/files"},
      log_);
  if (!process_->wait_for_output("\"ready\"", std::chrono::seconds(60))) return;
  std::istringstream lines(process_->output());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("\"ready\"") == std::string::npos) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (!ec) ready_ = v;
    break;
  }
}

FakeService::~FakeService() {
  process_.reset();  // SIGKILL and reap
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string FakeService::get(const char* key) const {
  if (!ok()) return {};
  const auto& obj = ready_.as_object();
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (it->value().is_string()) return std::string(it->value().as_string());
  return boost::json::serialize(it->value());
}

std::string FakeService::read_file(const char* key) const {
  std::ifstream in(get(key));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FakeService::control(const std::string& method, const std::string& path,
                                 const std::string& body) {
  std::string out;
  CURL* easy = curl_easy_init();
  const std::string url = "http://127.0.0.1:" + get("control_port") + path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  curl_slist* headers = curl_slist_append(nullptr, "content-type: application/json");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_perform(easy);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return out;
}

void FakeService::script(const std::string& json_array) {
  control("POST", "/script", json_array);
}
void FakeService::unregister(const std::string& token) {
  control("POST", "/unregister", boost::json::serialize(boost::json::object{{"token", token}}));
}
void FakeService::post(const std::string& path, const std::string& json) {
  control("POST", path, json);
}
void FakeService::clear() {
  control("POST", "/clear", "{}");
}

boost::json::array FakeService::received() {
  boost::system::error_code ec;
  auto v = boost::json::parse(control("GET", "/received", ""), ec);
  return !ec && v.is_array() ? v.as_array() : boost::json::array{};
}

boost::json::object FakeService::stats() {
  boost::system::error_code ec;
  auto v = boost::json::parse(control("GET", "/stats", ""), ec);
  return !ec && v.is_object() ? v.as_object() : boost::json::object{};
}

}  // namespace outpost::push::testing
