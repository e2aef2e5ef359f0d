#include "http_client/curl_transport.hpp"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/scope_exit.hpp"
#include "base/stop_flag.hpp"

namespace oxide {

namespace {

constexpr size_t kMaxErrorBody = 4096;

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderSlist = std::unique_ptr<curl_slist, SlistDeleter>;

// Per-transfer state shared by the callbacks.
struct Transfer {
  CURL* easy = nullptr;
  const StopFlag* stop = nullptr;
  DownloadSink* sink = nullptr;  // null: collect the body into `body`
  const DownloadRequest* request = nullptr;
  const UploadRequest* upload = nullptr;
  std::FILE* upload_file = nullptr;
  Status upload_status;  // a read error of the uploaded file
  HttpResponseHead head;
  char error[CURL_ERROR_SIZE] = {};  // curl's detail for a failed transfer (TLS reasons)
  bool head_delivered = false;
  std::string body;
  Status sink_status;
};

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->head.headers.clear();  // a new response (redirect, 100-continue)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    t->head.headers[name] = Trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (!t->head_delivered) {
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    t->head.status = static_cast<int>(code);
    t->head_delivered = true;
    if (t->sink != nullptr) {
      t->sink_status = t->sink->OnResponse(t->head);
      if (!t->sink_status.ok()) return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
  }
  bool success = t->head.status >= 200 && t->head.status <= 299;
  if (t->sink != nullptr && success) {
    t->sink_status = t->sink->Write(reinterpret_cast<const uint8_t*>(data), bytes);
    return t->sink_status.ok() ? bytes : 0;
  }
  if (t->sink == nullptr || t->body.size() < kMaxErrorBody) {
    t->body.append(data,
                   t->sink == nullptr ? bytes : std::min(bytes, kMaxErrorBody - t->body.size()));
  }
  return bytes;
}

size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t got = std::fread(buffer, 1, size * n, t->upload_file);
  if (got == 0 && std::ferror(t->upload_file)) {
    t->upload_status = IoError("reading " + t->upload->file_path + ": " + std::strerror(errno));
    return CURL_READFUNC_ABORT;
  }
  return got;
}

// With a receive-speed cap, a big kernel receive buffer only holds data the agent will not read
// for seconds, and it is lost (yet paid for) when the agent dies: keep ~1/4 s worth.
int ClampReceiveBuffer(void* user, curl_socket_t fd, curlsocktype purpose) {
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKOPT_OK;
  int bytes = *static_cast<const int*>(user);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);  // best effort
  return CURL_SOCKOPT_OK;
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
               curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  if (t->stop != nullptr && t->stop->requested()) return 1;  // CURLE_ABORTED_BY_CALLBACK
  if (t->upload != nullptr && t->upload->on_progress) {
    t->upload->on_progress(static_cast<uint64_t>(ulnow), static_cast<uint64_t>(ultotal));
  }
  if (t->request != nullptr && t->request->on_progress) {
    t->request->on_progress(static_cast<uint64_t>(dlnow), static_cast<uint64_t>(dltotal));
  }
  if (t->sink != nullptr) {
    Status s = t->sink->OnTick();
    if (!s.ok()) {
      t->sink_status = std::move(s);
      return 1;  // Perform returns sink_status
    }
  }
  return 0;
}

// Verification is never optional: a control plane that cannot prove who it is could hand the
// device any model. An https:// URL may redirect only to https:// (no silent downgrade).
void SetTlsOptions(CURL* c, const CurlOptions& o) {
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!o.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
    // Debian's libcurl also has a built-in CA path (/etc/ssl/certs): without clearing it every
    // public CA would still be trusted next to the private one --ca-file names.
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  }
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // A redirect may only go to HTTPS: plain HTTP is allowed to loopback alone (checked on the
  // configured URL at start), and a redirect would carry the agent somewhere else.
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
}

// Failures of the TLS layer get a message that says what to check.
bool IsTlsTrustError(CURLcode rc) {
  return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
         rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CONNECT_ERROR;
}

// Sets the options every request shares; returns the header list to keep alive.
HeaderSlist Prepare(CURL* c, Transfer& t, const CurlOptions& o, const std::string& url,
                    const HeaderList& headers) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o.low_speed_limit);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.low_speed_time.count()));
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t.error);
  SetTlsOptions(c, o);
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  return HeaderSlist(list);
}

Status Perform(Transfer& t, const std::string& url) {
  CURLcode rc = curl_easy_perform(t.easy);
  if (rc == CURLE_OK) {
    if (!t.head_delivered) {  // empty body: deliver the head now
      long code = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &code);
      t.head.status = static_cast<int>(code);
      t.head_delivered = true;
      if (t.sink != nullptr) OXIDE_RETURN_IF_ERROR(t.sink->OnResponse(t.head));
    }
    return Status::Ok();
  }
  if (!t.sink_status.ok()) return t.sink_status;
  if (!t.upload_status.ok()) return t.upload_status;
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Cancelled("transfer stopped: agent stopping");
  std::string msg = url + ": " + curl_easy_strerror(rc);
  if (t.error[0] != '\0') msg += std::string(" (") + t.error + ")";
  if (IsTlsTrustError(rc)) {
    msg = "TLS: cannot verify the server: " + msg +
          "; is its certificate signed by a CA in --ca-file (or the system store)?";
  }
  if (rc == CURLE_OUT_OF_MEMORY) return ResourceExhausted(msg);
  return Unavailable(msg);  // connect, DNS, reset, stall (low speed), TLS: all retryable
}

}  // namespace

Result<HttpReply> CurlTransport::Send(const HttpCall& call) {
  const std::string& url = call.url;
  EasyHandle easy(curl_easy_init());
  if (!easy) return ResourceExhausted("curl_easy_init failed");
  Transfer t;
  t.easy = easy.get();
  t.stop = stop_;
  HeaderList extra = call.headers;
  // POST and PUT (the admin CLI's `device tag`) carry a JSON body.
  const bool with_body = call.method == "POST" || call.method == "PUT";
  if (with_body) {
    extra.emplace_back("Content-Type", "application/json");
    extra.emplace_back("Expect", "");
  }
  HeaderSlist headers = Prepare(easy.get(), t, options_, url, extra);
  if (with_body) {
    curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(call.body.size()));
  }
  if (call.method != "GET" && call.method != "POST") {
    curl_easy_setopt(easy.get(), CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT,
                   static_cast<long>(options_.request_timeout.count()));
  OXIDE_RETURN_IF_ERROR(Perform(t, url));
  return HttpReply{t.head.status, std::move(t.body)};
}

Result<DownloadResult> CurlTransport::Get(const DownloadRequest& request, DownloadSink& sink) {
  EasyHandle easy(curl_easy_init());
  if (!easy) return ResourceExhausted("curl_easy_init failed");
  Transfer t;
  t.easy = easy.get();
  t.stop = stop_;
  t.sink = &sink;
  t.request = &request;
  HeaderSlist headers = Prepare(easy.get(), t, options_, request.url, request.headers);
  int rcvbuf =
      static_cast<int>(std::clamp<uint64_t>(options_.max_recv_speed / 4, 64 << 10, 4 << 20));
  if (options_.max_recv_speed != 0) {
    curl_easy_setopt(easy.get(), CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(options_.max_recv_speed));
    curl_easy_setopt(easy.get(), CURLOPT_SOCKOPTFUNCTION, &ClampReceiveBuffer);
    curl_easy_setopt(easy.get(), CURLOPT_SOCKOPTDATA, &rcvbuf);
  }
  OXIDE_RETURN_IF_ERROR(Perform(t, request.url));
  return DownloadResult{std::move(t.head), std::move(t.body)};
}

Result<HttpReply> CurlTransport::Upload(const UploadRequest& request) {
  std::FILE* file = std::fopen(request.file_path.c_str(), "rb");
  if (file == nullptr) return ErrnoError("opening " + request.file_path, errno);
  ScopeExit close_file([file] { std::fclose(file); });
  if (std::fseek(file, 0, SEEK_END) != 0) return ErrnoError("seeking " + request.file_path, errno);
  long size = std::ftell(file);
  if (size < 0 || std::fseek(file, 0, SEEK_SET) != 0) {
    return ErrnoError("sizing " + request.file_path, errno);
  }
  EasyHandle easy(curl_easy_init());
  if (!easy) return ResourceExhausted("curl_easy_init failed");
  Transfer t;
  t.easy = easy.get();
  t.stop = stop_;
  t.upload = &request;
  t.upload_file = file;
  HeaderList extra = request.headers;
  extra.emplace_back("Content-Type", "application/octet-stream");
  HeaderSlist headers = Prepare(easy.get(), t, options_, request.url, extra);
  // A known size: Content-Length framing (the server refuses an oversized upload before any
  // byte is sent), and curl reads the file in small chunks as the socket drains.
  curl_easy_setopt(easy.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_READFUNCTION, &OnRead);
  curl_easy_setopt(easy.get(), CURLOPT_READDATA, &t);
  curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  if (request.method != "POST") {
    curl_easy_setopt(easy.get(), CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  OXIDE_RETURN_IF_ERROR(Perform(t, request.url));
  return HttpReply{t.head.status, std::move(t.body)};
}

CurlGlobal::CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

}  // namespace oxide
