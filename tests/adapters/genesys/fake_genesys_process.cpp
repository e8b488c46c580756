#include "tests/adapters/genesys/fake_genesys_process.h"

#include <curl/curl.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace outpost::genesys::testing {
namespace {

size_t append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

FakeGenesys::FakeGenesys(const std::string& users, int contacts, const std::string& extra_args) {
  char tmpl[] = "/tmp/outpost-fake-genesys-XXXXXX";
  dir_ = mkdtemp(tmpl);
  std::vector<std::string> argv = {
      "/usr/bin/python3", OUTPOST_FAKE_GENESYS_SCRIPT, "--users",       users,
      "--contacts",       std::to_string(contacts),    "--credentials", dir_ + "/credentials.json"};
  std::istringstream extra(extra_args);
  for (std::string arg; extra >> arg;) argv.push_back(arg);
  process_ = std::make_unique<outpost::support::Process>(argv, dir_ + "/fake.log");
  if (!process_->wait_for_output("\"ready\"", std::chrono::seconds(60))) return;
  std::istringstream lines(process_->output());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"ready\"") == std::string::npos) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (!ec) ready_ = v;
    break;
  }
}

FakeGenesys::~FakeGenesys() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string FakeGenesys::log() const {
  return process_ ? process_->output() : std::string();
}

std::string FakeGenesys::get(const char* key) const {
  if (!ok()) return {};
  const auto* v = ready_.as_object().if_contains(key);
  if (!v) return {};
  return v->is_string() ? std::string(v->as_string()) : boost::json::serialize(*v);
}

boost::json::value FakeGenesys::control(const std::string& path, const std::string& json) {
  std::string out;
  CURL* easy = curl_easy_init();
  const std::string url = api() + "/fake/" + path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  curl_slist* headers = curl_slist_append(nullptr, "content-type: application/json");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
  curl_easy_perform(easy);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  boost::system::error_code ec;
  auto v = boost::json::parse(out, ec);
  return ec ? boost::json::value() : v;
}

std::string FakeGenesys::user_login(const std::string& user) {
  auto code = control("login", boost::json::serialize(boost::json::object{{"user", user}}));
  if (!code.is_object() || !code.as_object().contains("code")) return {};
  const std::string form =
      "grant_type=authorization_code&code=" + std::string(code.as_object().at("code").as_string());
  std::string out;
  CURL* easy = curl_easy_init();
  const std::string url = get("login") + "/oauth/token";
  const std::string credentials = get("client_id") + ":" + get("client_secret");
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(easy, CURLOPT_USERPWD, credentials.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form.c_str());
  long status = 0;
  if (curl_easy_perform(easy) == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  return status == 200 ? out : std::string();
}

int FakeGenesys::count_requests(const std::string& method, const std::string& prefix) {
  auto all = control("requests");
  int n = 0;
  if (!all.is_array()) return 0;
  for (const auto& r : all.as_array()) {
    const auto& o = r.as_object();
    if (o.at("method").as_string() == method &&
        std::string(o.at("path").as_string()).rfind(prefix, 0) == 0) {
      ++n;
    }
  }
  return n;
}

}  // namespace outpost::genesys::testing
