// Placeholders so that the SQLite store compiles in the pg branch after the store interface
// additions of issue #12. The replica and hb helpers own the real SQLite implementations; the lead
// drops this file at merge.
#include "store/sqlite/sqlite_store_internal.hpp"

namespace oxide::store::sqlite::internal {
namespace {

class StubEventLogStore final : public EventLogStore {
 public:
  Result<int64_t> Append(const std::string&, const std::string&, TimeMs) override {
    return Unsupported("sqlite event log: not in this branch");
  }
  Result<std::vector<EventLogRecord>> ListAfter(int64_t, size_t) override {
    return Unsupported("sqlite event log: not in this branch");
  }
  Status Trim(int64_t) override { return Unsupported("sqlite event log: not in this branch"); }
  Result<std::string> DatabaseId() override {
    return Unsupported("sqlite event log: not in this branch");
  }
};

}  // namespace

EventLogStore& StubEventLog() {
  static StubEventLogStore stub;
  return stub;
}

Result<std::optional<PatchRecord>> SqlitePatchStore::Claim(TimeMs, const std::string&, int64_t) {
  return Unsupported("sqlite patch leases: not in this branch");
}

Status SqlitePatchStore::RenewLease(const std::string&, const std::string&, const std::string&,
                                    TimeMs) {
  return Unsupported("sqlite patch leases: not in this branch");
}

Status SqlitePatchStore::ReleaseLease(const std::string&, const std::string&, const std::string&) {
  return Unsupported("sqlite patch leases: not in this branch");
}

}  // namespace oxide::store::sqlite::internal
