// One HTTP connection (Beast/Asio; private to server/net).
#include "server/net/session.hpp"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/file_util.hpp"
#include "base/log.hpp"
#include "base/sha256.hpp"
#include "server/api/errors.hpp"
#include "server/net/request_framing.hpp"
#include "server/net/stream_writer.hpp"

namespace oxide::server::net::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The device a request is about, for the request log: the download header, else the id in
// /api/v1/devices/<id>[/...]; empty when none.
std::string DeviceOf(const api::Request& req) {
  std::string id = req.Header("x-oxide-device-id");
  if (!id.empty()) return id;
  constexpr std::string_view kPrefix = "/api/v1/devices/";
  std::string_view path = req.path;
  if (path.substr(0, kPrefix.size()) != kPrefix) return "";
  path.remove_prefix(kPrefix.size());
  return std::string(path.substr(0, path.find('/')));
}

// Errors that mean the client sent bytes that are not HTTP (as opposed to a dropped or slow
// connection): they deserve a 400 before the connection closes.
bool IsParseError(beast::error_code ec) {
  return ec.category() == http::make_error_code(http::error::bad_chunk).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer;
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection over `Stream` (PlainStream, or TlsStream: the same session after a TLS
// handshake). Every handler runs on the connection's strand. `live` counts open sessions (the
// server caps it); `blocking` runs upload handlers (fsync of large files).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>>,
                public StreamWriter<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  friend class StreamWriter<Session<Stream>>;  // writes streamed bodies on this connection

 public:
  // `stream_args` construct the Stream: (socket) or (socket, ssl context).
  template <class... StreamArgs>
  Session(ConnectionLimiter::Lease slot, const SessionContext& ctx, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        router_(ctx.router),
        blobs_(ctx.blobs),
        opt_(ctx.opt),
        live_(ctx.live),
        blocking_(ctx.blocking),
        guard_(ctx.guard),
        gate_(ctx.gate),
        replies_(ctx.replies),
        slot_(std::move(slot)) {
    ++live_;
    beast::error_code ec;
    auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_address_ = peer.address().to_string();  // the audit log's "from where"
  }

  ~Session() {
    FinishAccounting();
    --live_;
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->ReadHeader();
      }
    });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // TLS: the handshake gets its own short deadline (a client that connects and never says
  // hello holds a slot like an idle plain connection); a failed one just closes (logged at
  // debug: scanners and clients without our CA are routine).
  void Handshake() {
    Lowest().expires_after(opt_.handshake_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code ec) {
                              if (ec) {
                                log::Debug("TLS handshake failed", {{"error", ec.message()}});
                                return self->Lowest().close();
                              }
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    header_parser_.emplace();
    header_parser_->header_limit(opt_.header_limit);
    // The route decides the body limit once the path is known (PolicyFor).
    header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Lowest().expires_after(first_request_ ? opt_.header_timeout : opt_.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *header_parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    first_request_ = false;
    head_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    started_ = std::chrono::steady_clock::now();
    log_method_ = "-";
    log_path_ = "-";
    log_device_.clear();
    if (ec == http::error::header_limit)
      return Reject(api::TooLargeResponse("header too large", 431));
    if (ec) return Reject(Corrupt("malformed HTTP request: " + ec.message()));
    const auto& h = header_parser_->get();
    keep_alive_ = h.keep_alive();
    // Known before any check, so a rejected request is logged with what it asked for.
    log_method_ = std::string(h.method_string());
    log_path_ = std::string(h.target().substr(0, h.target().find('?')));
    HeaderFields fields;
    for (const auto& f : h) fields.emplace_back(f.name_string(), f.value());
    if (Status te = CheckTransferEncoding(fields); !te.ok()) {
      return Reject(FramingErrorResponse(te));
    }
    req_ = api::Request();
    FillRequest(h.method_string(), h.target(), fields, &req_);
    head_ = req_.method == api::Method::kHead;
    log_device_ = DeviceOf(req_);
    if (auto limited = guard_.Admit(req_.method, req_.path, slot_.address())) {
      return Reject(std::move(*limited));
    }
    req_.remote_address = remote_address_;

    auto policy = router_.PolicyFor(req_);
    if (policy.refusal) return Reject(std::move(*policy.refusal));  // before any body byte
    auto length = header_parser_->content_length();
    if (length && *length > policy.max_bytes) {
      return Reject(api::TooLargeResponse("request body of " + std::to_string(*length) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(policy.max_bytes)));
    }
    if (!policy.precheck.ok()) return Reject(policy.precheck);
    blocking_handler_ = policy.blocking;
    if (policy.upload) {
      auto w = blobs_.NewWriter();
      if (!w.ok()) return Reject(w.status());
      upload_ = std::move(w).value();
      upload_parser_.emplace(std::move(*header_parser_));
      upload_parser_->body_limit(policy.max_bytes);
    } else {
      string_parser_.emplace(std::move(*header_parser_));
      string_parser_->body_limit(policy.max_bytes);
    }
    if (Lower(req_.Header("expect")) == "100-continue") return SendContinue();
    ReadBody();
  }

  // Tells curl & co. to send the body (they otherwise wait a second for it).
  void SendContinue() {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    Lowest().expires_after(opt_.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadBody();
                      });
  }

  void ReadBody() {
    if (upload_parser_) return ReadUploadChunk();
    Lowest().expires_after(opt_.read_timeout);
    http::async_read(stream_, buffer_, *string_parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->OnStringBody(ec);
                     });
  }

  void OnStringBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Reject(api::TooLargeResponse("body exceeds the limit"));
    }
    if (IsParseError(ec)) return Reject(Corrupt("malformed request body: " + ec.message()));
    if (ec) return Close();
    req_.body = std::move(string_parser_->get().body());
    string_parser_.reset();
    Dispatch();
  }

  // The streaming buffer exists only while an upload or a file is in flight, so idle
  // keep-alive connections cost no more than their socket and parser.
  void EnsureChunk(size_t n) {
    if (chunk_.size() < n) chunk_.resize(n);
  }
  void ReleaseChunk() { std::vector<char>().swap(chunk_); }

  void ReadUploadChunk() {
    EnsureChunk(opt_.chunk_size);
    auto& body = upload_parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    Lowest().expires_after(opt_.read_timeout);
    http::async_read(stream_, buffer_, *upload_parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->OnUploadChunk(ec);
                     });
  }

  void OnUploadChunk(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) {
      upload_.reset();  // removes the temp file
      return Reject(api::TooLargeResponse("upload exceeds the limit"));
    }
    if (IsParseError(ec)) {
      upload_.reset();
      return Reject(Corrupt("malformed request body: " + ec.message()));
    }
    if (ec) {
      upload_.reset();
      return Close();
    }
    size_t got = chunk_.size() - upload_parser_->get().body().size;
    if (got > 0 && upload_ != nullptr) {
      Status st = upload_->Append(chunk_.data(), got);
      if (!st.ok()) {
        // Keep reading (and dropping) the rest of the body, then answer: a client still
        // sending a large upload would otherwise see a reset (broken pipe), not the 507.
        upload_.reset();
        upload_error_ = st;
      }
    }
    if (!upload_parser_->is_done()) return ReadUploadChunk();
    upload_parser_.reset();
    ReleaseChunk();
    if (!upload_error_.ok()) {
      Status st = std::move(upload_error_);
      upload_error_ = Status::Ok();
      return OnHandled(api::ErrorResponse(st));
    }
    req_.upload = std::move(upload_);
    Dispatch();
  }

  void Dispatch() {
    if (req_.upload == nullptr && !blocking_handler_) {
      api::Response r = router_.Start(req_);
      if (r.deferred) return Defer(std::move(r.deferred));
      return OnHandled(std::move(r));
    }
    // Committing an upload fsyncs and hashes up to gigabytes, and blocking routes (meta of a
    // large model) take long too: run them on the blocking pool and come back to this
    // connection's strand. Nothing else touches req_ meanwhile (no I/O is pending on this
    // session).
    asio::post(blocking_, [self = this->shared_from_this()] {
      api::Response r = self->router_.Handle(self->req_);
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->OnHandled(std::move(r)); });
    });
  }

  // The handler answers later from another thread (a heartbeat, once its group commit is
  // durable): this I/O thread goes back to its loop, and the answer comes back to this
  // connection's strand. No I/O is pending meanwhile; a client that left is found out by the
  // write. The pending answer holds the session.
  void Defer(std::function<void(api::Response::Reply)> start) {
    replies_->Add();
    start([self = this->shared_from_this(), replies = replies_](api::Response r) mutable {
      self->gate_->Run([&] {
        asio::post(self->stream_.get_executor(),
                   [self, r = std::move(r)]() mutable { self->OnHandled(std::move(r)); });
      });
      self.reset();  // after shutdown (gate closed) the session goes here, before Done()
      replies->Done();
    });
  }

  void OnHandled(api::Response r) {
    guard_.OnAnswered(r.status, slot_.address());
    resp_ = std::move(r);
    req_ = api::Request();  // drops the staged upload (committed or removed)
    if (resp_.file && !head_) return StartFile();
    if (resp_.stream && !head_) return this->StartStream();
    WriteString();
  }

  // Answers an error found before the handler ran, then closes (the body may be unread).
  void Reject(const Status& st) { Reject(api::ErrorResponse(st)); }
  void Reject(api::Response r) {
    // A 401 refused before the body (an upload without a valid token) spends the address's
    // authentication budget like one from a handler: uploads are no way around the limit.
    guard_.OnAnswered(r.status, slot_.address());
    keep_alive_ = false;
    resp_ = std::move(r);
    WriteString();
  }

  template <class Res>
  void SetHeaders(Res& res) {
    res.set(http::field::server, "oxide");
    for (const auto& [k, v] : resp_.headers) res.set(k, v);
    res.keep_alive(keep_alive_);
  }

  // HEAD: the GET response's headers and Content-Length, no body.
  void WriteHeadOnly() {
    auto res = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(resp_.status), 11);
    SetHeaders(*res);
    res->content_length(resp_.file ? resp_.file->length : resp_.body.size());
    log_status_ = resp_.status;
    log_bytes_ = 0;
    resp_ = api::Response();
    Lowest().expires_after(opt_.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->OnResponseDone(ec);
                      });
  }

  void WriteString() {
    if (head_) return WriteHeadOnly();
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp_.status), 11);
    SetHeaders(*res);
    log_status_ = resp_.status;
    log_bytes_ = resp_.body.size();
    res->body() = std::move(resp_.body);
    res->prepare_payload();
    Lowest().expires_after(opt_.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        self->OnResponseDone(ec);
                      });
  }

  void StartFile() {
    auto file = ReadableFile::Open(resp_.file->path);
    if (!file.ok()) {
      resp_ = api::ErrorResponse(file.status());
      return WriteString();
    }
    file_ = std::move(file).value();
    on_corrupt_ = std::move(resp_.on_corrupt);
    if (!resp_.file->sha256.empty() && resp_.file->size > 0 && file_->size() != resp_.file->size) {
      // Truncated (or grown) on disk: nothing was sent yet, so say so instead of a short body,
      // and have the blob checked and removed like a corrupt one.
      std::fprintf(stderr, "oxide serve: blob %s is %llu bytes, expected %llu: not served\n",
                   resp_.file->path.c_str(), static_cast<unsigned long long>(file_->size()),
                   static_cast<unsigned long long>(resp_.file->size));
      file_.reset();
      ReportCorrupt();
      resp_ = api::ErrorResponse(Unavailable(
          "the blob has the wrong size on disk (damaged): it is removed; upload it again"));
      return WriteString();
    }
    EnsureChunk(opt_.chunk_size);
    file_pos_ = resp_.file->offset;
    file_left_ = resp_.file->length;
    // A whole-file read checks the bytes against their name on the way (cheap next to the
    // network): a corrupt blob is never served complete.
    verify_sha256_.clear();
    if (!resp_.file->sha256.empty() && file_pos_ == 0 && file_left_ == file_->size()) {
      verify_sha256_ = resp_.file->sha256;
      verify_hash_.emplace();
      hashed_to_ = 0;
    }
    body_written_ = 0;
    accounting_ = std::move(resp_.on_complete);
    file_res_.emplace(static_cast<http::status>(resp_.status), 11);
    SetHeaders(*file_res_);
    file_res_->content_length(file_left_);
    file_res_->body().data = nullptr;
    file_res_->body().more = true;
    file_sr_.emplace(*file_res_);
    log_status_ = resp_.status;
    Lowest().expires_after(opt_.write_timeout);
    http::async_write_header(stream_, *file_sr_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->OnResponseDone(ec);
                               self->WriteFileChunk();
                             });
  }

  void WriteFileChunk() {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_.size(), file_left_));
    if (n > 0) {
      Status st = file_->ReadExactAt(file_pos_, chunk_.data(), n);
      if (!st.ok()) {
        log::Error("reading a blob for a response failed", {{"error", st.ToString()}});
        ReportCorrupt();  // shrunk since it was opened, or unreadable: checked off this thread
        return CutShort("blob read failed");  // mid-body: a short response is the only signal
      }
      if (!verify_sha256_.empty() && !VerifyChunk(n)) return CutShort("blob is corrupt");
    }
    file_chunk_ = n;
    auto& body = file_res_->body();
    body.data = n > 0 ? chunk_.data() : nullptr;
    body.size = n;
    body.more = file_left_ > n;
    Lowest().expires_after(opt_.write_timeout);
    http::async_write(stream_, *file_sr_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t written) {
                        self->OnFileChunk(ec, written);
                      });
  }

  // `written`: body bytes this write put on the socket (the header went out before, and a
  // Content-Length body has no chunk framing), even when it failed part way.
  void OnFileChunk(beast::error_code ec, size_t written) {
    if (ec == http::error::need_buffer) ec = {};
    size_t consumed = std::min(written, file_chunk_);
    body_written_ += consumed;
    file_pos_ += consumed;
    file_left_ -= consumed;
    if (ec) return OnResponseDone(ec);
    if (file_sr_->is_done()) return OnResponseDone(ec);
    WriteFileChunk();
  }

  // Hashes the new part of the chunk just read at file_pos_; before the last chunk goes out,
  // compares the digest. false: the file does not hash to its name (reported off this thread),
  // and the caller cuts the response short.
  bool VerifyChunk(size_t n) {
    const uint64_t end = file_pos_ + n;
    if (end > hashed_to_) {
      const uint64_t skip = hashed_to_ - file_pos_;  // re-read after a partial write
      verify_hash_->Update(chunk_.data() + skip, static_cast<size_t>(end - hashed_to_));
      hashed_to_ = end;
    }
    if (file_left_ > n) return true;
    const std::string actual = ToHex(verify_hash_->Finish());
    const bool ok = actual == verify_sha256_;
    verify_sha256_.clear();
    if (ok) return true;
    std::fprintf(stderr, "oxide serve: blob %s hashes to %s: response cut short\n",
                 resp_.file ? resp_.file->path.c_str() : "", actual.c_str());
    ReportCorrupt();
    return false;
  }

  // Hands the damaged blob to the repair path (which verifies it again), at most once.
  void ReportCorrupt() {
    if (on_corrupt_) asio::post(blocking_, std::move(on_corrupt_));
    on_corrupt_ = nullptr;
  }

  // Ends a file response mid-body: logged and accounted like any finished response (once),
  // then the connection closes so the client sees a short body.
  void CutShort(std::string_view why) {
    LogRequest(why, body_written_);
    FinishAccounting();
    file_sr_.reset();
    file_res_.reset();
    file_.reset();
    Close();
  }

  void OnResponseDone(beast::error_code ec) {
    LogRequest(ec ? ec.message() : std::string(), file_sr_ ? body_written_ : log_bytes_);
    FinishAccounting();
    file_sr_.reset();
    file_res_.reset();
    file_.reset();
    ReleaseChunk();
    if (ec || !keep_alive_) return Close();
    ReadHeader();
  }

  void FinishAccounting() {
    if (accounting_) {
      auto f = std::move(accounting_);
      accounting_ = nullptr;
      f(body_written_);
    }
  }

  // One line per answered request. `bytes`: body bytes sent (short when the client went away
  // or the response was cut short); `error` why it ended early ("" = it did not).
  void LogRequest(std::string_view error, uint64_t bytes) {
    log::Level level = log_status_ >= 500 ? log::Level::kError : log::Level::kInfo;
    if (!log::Enabled(level)) return;
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    std::vector<log::Field> fields = {{"method", log_method_},
                                      {"path", log_path_},
                                      {"status", log_status_},
                                      {"bytes", bytes},
                                      {"ms", ms}};
    if (!log_device_.empty()) fields.emplace_back("device", log_device_);
    if (!error.empty()) fields.emplace_back("error", error);
    log::Write(level, "request", fields);
  }

  // Lingering close: stop sending, then discard what the client still sends (bounded), so an
  // early error (413 mid-upload) reaches it instead of being lost to a TCP reset.
  // TLS: close_notify (bounded by a short deadline), then the socket; no lingering drain,
  // since unread TLS records cannot be discarded without decrypting them.
  void Close() {
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->Lowest().close(); });
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      EnsureChunk(kDrainChunk);
      // One deadline for the whole drain: a client trickling a byte now and then must not keep
      // its connection slot past it.
      Lowest().expires_after(std::chrono::seconds(2));
      Drain(0);
    }
  }
  void Drain(uint64_t drained) {
    if (drained > (8u << 20)) return;
    stream_.async_read_some(asio::buffer(chunk_), [self = this->shared_from_this(), drained](
                                                      beast::error_code ec, size_t n) {
      if (!ec) self->Drain(drained + n);
    });
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  const api::Router& router_;
  const BlobStore& blobs_;
  static constexpr size_t kDrainChunk = 4096;

  const HttpServerOptions& opt_;
  std::atomic<size_t>& live_;
  asio::thread_pool& blocking_;
  RequestGuard& guard_;
  std::shared_ptr<PostGate> gate_;
  std::shared_ptr<PendingReplies> replies_;
  ConnectionLimiter::Lease slot_;  // this client address's connection slot
  std::vector<char> chunk_;        // empty unless streaming (EnsureChunk)
  bool first_request_ = true;
  bool keep_alive_ = true;
  bool head_ = false;  // the current request is HEAD

  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> string_parser_;
  std::optional<http::request_parser<http::buffer_body>> upload_parser_;
  std::shared_ptr<BlobWriter> upload_;
  Status upload_error_;  // staging failed: the rest of the body is read and dropped
  api::Request req_;
  std::string remote_address_;
  api::Response resp_;

  std::unique_ptr<ReadableFile> file_;
  std::optional<http::response<http::buffer_body>> file_res_;
  std::optional<http::response_serializer<http::buffer_body>> file_sr_;
  uint64_t file_pos_ = 0;
  uint64_t file_left_ = 0;
  size_t file_chunk_ = 0;
  uint64_t body_written_ = 0;
  std::function<void(uint64_t)> accounting_;
  // The request log line's fields, kept from the request to the end of its response.
  std::chrono::steady_clock::time_point started_;
  std::string log_method_, log_path_, log_device_;
  int log_status_ = 0;
  uint64_t log_bytes_ = 0;
  bool blocking_handler_ = false;  // the route asked to run off the I/O threads
  std::string verify_sha256_;      // non-empty: the file body is hashed and checked
  std::optional<Sha256> verify_hash_;
  uint64_t hashed_to_ = 0;  // file offset up to which verify_hash_ has seen the bytes
  std::function<void()> on_corrupt_;
  bool writing_ = false;  // a write is in flight (streamed bodies: at most one)
};

}  // namespace

// Session<PlainStream> and Session<TlsStream> are each a large part of the heaviest object of the
// build, so this file is compiled twice: here the plain half, and with OXIDE_SESSION_TLS (by
// session_tls.cpp) the TLS half, on two cores in parallel.
#if defined(OXIDE_SESSION_TLS)
void StartTlsSession(tcp::socket socket, ConnectionLimiter::Lease slot, const SessionContext& ctx) {
  std::make_shared<Session<TlsStream>>(std::move(slot), ctx, std::move(socket), *ctx.tls)->Start();
}
#else
void StartSession(tcp::socket socket, ConnectionLimiter::Lease slot, const SessionContext& ctx) {
  if (ctx.tls != nullptr) {
    StartTlsSession(std::move(socket), std::move(slot), ctx);
  } else {
    std::make_shared<Session<PlainStream>>(std::move(slot), ctx, std::move(socket))->Start();
  }
}
#endif

}  // namespace oxide::server::net::internal
