#include "adapters/push/http2_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace outpost::push {
namespace {

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpResponse* response = nullptr;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<HttpResponse*>(user)->body.append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    static_cast<HttpResponse*>(user)->headers[name] = std::string(value);
  }
  return size * count;
}

}  // namespace

Result<std::unique_ptr<Http2Client>> Http2Client::create(Http2Options options) {
  static std::once_flag once;
  static CURLcode init = CURLE_OK;
  std::call_once(once, [] { init = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init != CURLE_OK) return error(ErrorCode::kInternal, "curl_global_init failed");
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if ((info->features & CURL_VERSION_HTTP2) == 0) {
    return error(ErrorCode::kInternal, "libcurl was built without HTTP/2 (nghttp2)");
  }
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return error(ErrorCode::kInternal, "curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  return std::unique_ptr<Http2Client>(new Http2Client(std::move(options), multi));
}

Http2Client::~Http2Client() {
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

std::vector<HttpResponse> Http2Client::perform(const std::vector<HttpRequest>& requests) {
  CURLM* multi = static_cast<CURLM*>(multi_);
  std::vector<HttpResponse> responses(requests.size());
  std::vector<Transfer> transfers(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const HttpRequest& req = requests[i];
    Transfer& t = transfers[i];
    t.response = &responses[i];
    t.easy = curl_easy_init();
    if (t.easy == nullptr) {
      responses[i].transport = error(ErrorCode::kInternal, "curl_easy_init failed");
      continue;
    }
    for (const auto& h : req.headers) t.headers = curl_slist_append(t.headers, h.c_str());
    // No "Expect: 100-continue" round trip before small bodies.
    t.headers = curl_slist_append(t.headers, "Expect:");
    curl_easy_setopt(t.easy, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    // Wait for the connection being set up to say it multiplexes rather than opening one
    // connection per request (decision 011).
    curl_easy_setopt(t.easy, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(t.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t.easy, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "POST") {
      curl_easy_setopt(t.easy, CURLOPT_POST, 1L);
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, req.body.c_str());
    }
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.headers);
    curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, t.response);
    curl_easy_setopt(t.easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t.easy, CURLOPT_HEADERDATA, t.response);
    curl_easy_setopt(t.easy, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
    curl_easy_setopt(t.easy, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    if (!options_.ca_file.empty())
      curl_easy_setopt(t.easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
    curl_multi_add_handle(multi, t.easy);
  }

  int running = 0;
  do {
    CURLMcode rc = curl_multi_perform(multi, &running);
    if (rc == CURLM_OK && running > 0) rc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    if (rc != CURLM_OK) break;
  } while (running > 0);

  CURLMsg* msg = nullptr;
  int left = 0;
  while ((msg = curl_multi_info_read(multi, &left)) != nullptr) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    if (t == nullptr) continue;
    const CURLcode code = msg->data.result;
    long num_connects = 0;
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &num_connects);
    connections_opened_ += num_connects;
    long version = 0;
    curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &version);
    t->response->http2 = version == CURL_HTTP_VERSION_2_0;
    if (code == CURLE_OK) {
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response->status);
    } else {
      t->response->status = 0;
      t->response->timed_out = code == CURLE_OPERATION_TIMEDOUT;
      t->response->transport =
          error(t->response->timed_out ? ErrorCode::kCancelled : ErrorCode::kUnavailable,
                std::string("curl: ") + curl_easy_strerror(code));
    }
  }
  for (auto& t : transfers) {
    if (t.easy == nullptr) continue;
    if (t.response->status == 0 && t.response->transport.ok()) {
      t.response->transport = error(ErrorCode::kUnavailable, "transfer did not complete");
    }
    curl_multi_remove_handle(multi, t.easy);
    curl_easy_cleanup(t.easy);
    curl_slist_free_all(t.headers);
  }
  return responses;
}

}  // namespace outpost::push
