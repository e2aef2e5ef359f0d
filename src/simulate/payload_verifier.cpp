#include "simulate/payload_verifier.hpp"

#include "delta/base_source.hpp"
#include "delta/patch_applier.hpp"

namespace oxide::simulate {

// The rebuilt target is counted (and kept when asked), never written: the applier checks its
// SHA-256 itself.
class PayloadVerifier::CountingSink final : public delta::ByteSink {
 public:
  CountingSink(uint64_t* bytes, std::string* keep) : bytes_(bytes), keep_(keep) {}
  Status Write(const uint8_t* data, size_t n) override {
    *bytes_ += n;
    if (keep_ != nullptr) keep_->append(reinterpret_cast<const char*>(data), n);
    return Status::Ok();
  }

 private:
  uint64_t* bytes_;
  std::string* keep_;
};

PayloadVerifier::PayloadVerifier(std::string expected_sha256, std::string* keep)
    : expected_(std::move(expected_sha256)), keep_(keep) {}
PayloadVerifier::~PayloadVerifier() = default;

std::unique_ptr<PayloadVerifier> PayloadVerifier::ForFull(std::string expected_sha256,
                                                          std::string* keep) {
  return std::unique_ptr<PayloadVerifier>(new PayloadVerifier(std::move(expected_sha256), keep));
}

std::unique_ptr<PayloadVerifier> PayloadVerifier::ForPatch(std::string_view base,
                                                           std::string expected_sha256,
                                                           uint64_t max_window_bytes,
                                                           std::string* keep) {
  std::unique_ptr<PayloadVerifier> v(new PayloadVerifier(std::move(expected_sha256), keep));
  v->base_ = delta::BaseSource::FromMemory(base);
  v->sink_ = std::make_unique<CountingSink>(&v->target_bytes_, keep);
  delta::ApplyLimits limits;
  limits.max_window_bytes = max_window_bytes;
  v->applier_ = delta::PatchApplier::Create(v->base_.get(), v->sink_.get(), limits);
  return v;
}

Status PayloadVerifier::Feed(const uint8_t* data, size_t n) {
  if (!error_.ok()) return error_;
  if (applier_) {
    error_ = applier_->Feed(data, n);
    return error_;
  }
  sha_.Update(data, n);
  target_bytes_ += n;
  if (keep_ != nullptr) keep_->append(reinterpret_cast<const char*>(data), n);
  return Status::Ok();
}

Status PayloadVerifier::Finish() {
  if (!error_.ok()) return error_;
  Digest got{};
  if (applier_) {
    auto digest = applier_->Finish();
    if (!digest.ok()) return error_ = digest.status();
    got = *digest;
  } else {
    got = sha_.Finish();
  }
  if (ToHex(got) != expected_) {
    error_ = Corrupt("SHA-256 of the rebuilt target is " + ToHex(got) + ", the assignment says " +
                     expected_);
  }
  return error_;
}

}  // namespace oxide::simulate
