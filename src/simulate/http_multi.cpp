#include "simulate/http_multi.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <unordered_map>

namespace oxide::simulate {

namespace {

constexpr size_t kMaxKeptBody = 64 * 1024;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Transfer {
  HttpRequest request;
  HttpMulti::DoneFn done;
  HttpMulti::HeadFn head;
  HttpMulti::BodyFn body;
  curl_slist* headers = nullptr;
  HeaderMap response_headers;
  HttpOutcome outcome;
  int64_t started_us = 0;
  bool head_seen = false;
  bool streaming = false;  // the body goes to `body` (a 2xx with a body callback)
  bool aborted = false;
  CURL* easy = nullptr;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->response_headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t->response_headers[Lower(std::string(line.substr(0, colon)))] = std::string(value);
  }
  return size * n;
}

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t->head_seen) {
    t->head_seen = true;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    t->outcome.status = static_cast<int>(code);
    const bool ok = code >= 200 && code <= 299;
    if (ok && t->head && !t->head(t->outcome.status, t->response_headers)) {
      t->aborted = true;
      return 0;
    }
    t->streaming = ok && t->body;
  }
  t->outcome.bytes_down += len;
  if (t->streaming) {
    if (!t->body(data, len)) {
      t->aborted = true;
      return 0;
    }
  } else if (t->outcome.body.size() < kMaxKeptBody) {
    t->outcome.body.append(data, std::min(len, kMaxKeptBody - t->outcome.body.size()));
  }
  return len;
}

}  // namespace

struct HttpMulti::Impl {
  CURLM* multi = nullptr;
  int epoll_fd = -1;
  int64_t timer_due_us = -1;  // when curl wants CURL_SOCKET_TIMEOUT; -1: no timer
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> running;
  std::vector<CURL*> failed_to_add;  // finished from the next Poll()
  std::vector<CURL*> idle_easy;      // reused: saves an allocation and curl's setup per request

  ~Impl() {
    for (auto& [easy, t] : running) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      curl_slist_free_all(t->headers);
    }
    for (CURL* easy : idle_easy) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
    if (epoll_fd >= 0) ::close(epoll_fd);
  }

  static int OnSocket(CURL*, curl_socket_t s, int what, void* user, void* socket_data) {
    auto* self = static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
      // The socket may be closed already; nothing to undo then.
      epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, s, nullptr);
      curl_multi_assign(self->multi, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = s;
    int op = socket_data == nullptr ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(self->epoll_fd, op, s, &ev) != 0) {
      // A descriptor number curl reused, or one the kernel dropped on close: try the other op.
      op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
      epoll_ctl(self->epoll_fd, op, s, &ev);
    }
    curl_multi_assign(self->multi, s, self);
    return 0;
  }

  static int OnTimer(CURLM*, long timeout_ms, void* user) {
    auto* self = static_cast<Impl*>(user);
    self->timer_due_us = timeout_ms < 0 ? -1 : NowMicros() + timeout_ms * 1000;
    return 0;
  }

  void Finish(CURL* easy, CURLcode code) {
    auto it = running.find(easy);
    if (it == running.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    running.erase(it);
    curl_multi_remove_handle(multi, easy);
    HttpOutcome& o = t->outcome;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    o.status = static_cast<int>(status);
    o.elapsed_us = NowMicros() - t->started_us;
    if (code != CURLE_OK) {
      o.error = t->aborted                         ? TransportError::kAborted
                : code == CURLE_OPERATION_TIMEDOUT ? TransportError::kTimeout
                : code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST
                    ? TransportError::kConnect
                    : TransportError::kOther;
      o.error_text = curl_easy_strerror(code);
    }
    curl_slist_free_all(t->headers);
    t->headers = nullptr;
    idle_easy.push_back(easy);
    HttpMulti::DoneFn done = std::move(t->done);
    HttpOutcome out = std::move(o);
    t.reset();  // before the DoneFn, which may Start() again
    done(std::move(out));
  }

  void DrainDone() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg == CURLMSG_DONE) Finish(m->easy_handle, m->data.result);
    }
  }
};

Result<std::unique_ptr<HttpMulti>> HttpMulti::Create(size_t max_connections) {
  auto impl = std::make_unique<Impl>();
  impl->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (impl->epoll_fd < 0) return ErrnoError("epoll_create1", errno);
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) return Internal("curl_multi_init failed");
  const long cap = static_cast<long>(std::max<size_t>(1, max_connections));
  curl_multi_setopt(impl->multi, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
  curl_multi_setopt(impl->multi, CURLMOPT_SOCKETDATA, impl.get());
  curl_multi_setopt(impl->multi, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
  curl_multi_setopt(impl->multi, CURLMOPT_TIMERDATA, impl.get());
  curl_multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS, cap);
  curl_multi_setopt(impl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cap);
  return std::unique_ptr<HttpMulti>(new HttpMulti(std::move(impl)));
}

HttpMulti::HttpMulti(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpMulti::~HttpMulti() = default;

size_t HttpMulti::in_flight() const { return impl_->running.size(); }

void HttpMulti::Start(HttpRequest request, DoneFn done, HeadFn head, BodyFn body) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->head = std::move(head);
  t->body = std::move(body);
  t->started_us = NowMicros();
  CURL* easy = nullptr;
  if (!impl_->idle_easy.empty()) {
    easy = impl_->idle_easy.back();
    impl_->idle_easy.pop_back();
    curl_easy_reset(easy);
  } else {
    easy = curl_easy_init();
  }
  t->easy = easy;
  const HttpRequest& r = t->request;
  for (const std::string& h : r.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  if (r.post) {
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  if (r.timeout_ms > 0) {
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, r.timeout_ms);
  } else {
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 30L);
  }
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  Transfer* raw = t.get();
  impl_->running.emplace(easy, std::move(t));
  if (CURLMcode mc = curl_multi_add_handle(impl_->multi, easy); mc != CURLM_OK) {
    // Reported like any transport failure, from the next Poll (never from Start).
    raw->outcome.error = TransportError::kOther;
    raw->outcome.error_text = curl_multi_strerror(mc);
    impl_->failed_to_add.push_back(easy);
  }
}

void HttpMulti::Poll(int timeout_ms) {
  Impl& m = *impl_;
  int running = 0;
  std::vector<CURL*> failed;
  failed.swap(m.failed_to_add);  // a DoneFn may Start() again
  for (CURL* easy : failed) {
    auto it = m.running.find(easy);
    if (it == m.running.end()) continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    m.running.erase(it);
    curl_slist_free_all(t->headers);
    m.idle_easy.push_back(easy);
    t->done(std::move(t->outcome));
  }
  int wait = std::max(0, timeout_ms);
  if (m.timer_due_us >= 0) {
    const int64_t until = (m.timer_due_us - NowMicros() + 999) / 1000;
    wait = static_cast<int>(std::clamp<int64_t>(until, 0, wait));
  }
  epoll_event events[256];
  const int n = epoll_wait(m.epoll_fd, events, 256, wait);
  for (int i = 0; i < n; ++i) {
    int mask = 0;
    if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(m.multi, events[i].data.fd, mask, &running);
  }
  if (m.timer_due_us >= 0 && NowMicros() >= m.timer_due_us) {
    m.timer_due_us = -1;
    curl_multi_socket_action(m.multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  m.DrainDone();
}

}  // namespace oxide::simulate
