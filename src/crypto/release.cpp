#include "crypto/release.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "base/safe_id.hpp"
#include "base/sha256.hpp"
#include "crypto/base64.hpp"

namespace oxide::crypto {

namespace {

using nlohmann::json;

// Parses without exceptions: a malformed document is a discarded value.
Result<json> ParseObject(std::string_view text, std::string_view what) {
  if (text.size() > kMaxEnvelopeSize) {
    return InvalidArgument(std::string(what) + ": larger than " + std::to_string(kMaxEnvelopeSize) +
                           " bytes");
  }
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(std::string(what) + ": malformed JSON");
  if (!j.is_object()) return InvalidArgument(std::string(what) + ": not a JSON object");
  return j;
}

Result<std::string> GetString(const json& j, const char* key, std::string_view what,
                              size_t max_size) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return InvalidArgument(std::string(what) + ": '" + key + "' must be a string");
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > max_size) {
    return InvalidArgument(std::string(what) + ": '" + key + "' is too long");
  }
  return s;
}

Result<uint64_t> GetUnsigned(const json& j, const char* key, std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    return InvalidArgument(std::string(what) + ": '" + key + "' must be a non-negative integer");
  }
  return it->get<uint64_t>();
}

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<EnvelopeSignature> ParseSignature(const json& j) {
  if (!j.is_object()) return InvalidArgument("envelope: a signature must be an object");
  EnvelopeSignature s;
  OXIDE_ASSIGN_OR_RETURN(s.keyid, GetString(j, "keyid", "signature", 64));
  if (!IsLowerHex64(s.keyid)) {
    return InvalidArgument("signature: 'keyid' must be 64 lower-case hex characters");
  }
  OXIDE_ASSIGN_OR_RETURN(std::string sig, GetString(j, "sig", "signature", 128));
  OXIDE_ASSIGN_OR_RETURN(s.sig, Base64DecodeExact(sig, kSignatureSize, "signature 'sig'"));
  return s;
}

json EnvelopeJson(const Envelope& e) {
  json sigs = json::array();
  for (const EnvelopeSignature& s : e.signatures) {
    sigs.push_back({{"keyid", s.keyid}, {"sig", Base64Encode(s.sig)}});
  }
  return {{"payload_type", e.payload_type},
          {"payload", Base64Encode(e.payload)},
          {"signatures", std::move(sigs)}};
}

Result<Envelope> EnvelopeFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("envelope: not a JSON object");
  Envelope e;
  OXIDE_ASSIGN_OR_RETURN(e.payload_type, GetString(j, "payload_type", "envelope", 128));
  OXIDE_ASSIGN_OR_RETURN(std::string payload,
                         GetString(j, "payload", "envelope", kMaxEnvelopeSize));
  OXIDE_ASSIGN_OR_RETURN(e.payload, Base64Decode(payload));
  auto it = j.find("signatures");
  if (it == j.end() || !it->is_array()) {
    return InvalidArgument("envelope: 'signatures' must be an array");
  }
  if (it->size() > kMaxSignatures) {
    return InvalidArgument("envelope: more than " + std::to_string(kMaxSignatures) + " signatures");
  }
  for (const json& s : *it) {
    OXIDE_ASSIGN_OR_RETURN(EnvelopeSignature sig, ParseSignature(s));
    e.signatures.push_back(std::move(sig));
  }
  return e;
}

bool IsLeapYear(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date, in 64 bits (no time_t, which may be 32
// bits wide and end in 2038). Counts in 400-year eras of 146097 days, the year starting in March
// so that the leap day is the era-year's last.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t year_of_era = y - era * 400;                                    // [0, 399]
  const int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

// The inverse of DaysFromCivil.
void CivilFromDays(int64_t days, int64_t* y, int64_t* m, int64_t* d) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;  // [0, 146096]
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const int64_t mp = (5 * day_of_year + 2) / 153;                              // March = 0
  *d = day_of_year - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = year_of_era + era * 400 + (*m <= 2 ? 1 : 0);
}

}  // namespace

const TrustedKey* KeySet::Find(std::string_view keyid) const {
  for (const TrustedKey& k : keys) {
    if (k.keyid == keyid) return &k;
  }
  return nullptr;
}

Result<int64_t> ParseUtcTime(std::string_view text) {
  // Exactly YYYY-MM-DDTHH:MM:SSZ: one spelling per instant, nothing for a parser to guess.
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  bool shaped = text.size() == kShape.size();
  for (size_t i = 0; shaped && i < text.size(); ++i) {
    shaped = kShape[i] == 'd' ? (text[i] >= '0' && text[i] <= '9') : text[i] == kShape[i];
  }
  if (!shaped)
    return InvalidArgument("time '" + std::string(text) + "' is not YYYY-MM-DDTHH:MM:SSZ");
  auto num = [&](size_t pos, size_t n) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  const int64_t year = num(0, 4), month = num(5, 2), day = num(8, 2);
  const int64_t hour = num(11, 2), minute = num(14, 2), second = num(17, 2);
  // Out-of-range fields (Feb 30, 24:00) are refused, never normalised.
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return InvalidArgument("time '" + std::string(text) + "' is not a valid date");
  }
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

std::string FormatUtcTime(int64_t unix_seconds) {
  constexpr int64_t kMinUtcTime = -62167219200;  // 0000-01-01T00:00:00Z
  unix_seconds = std::clamp<int64_t>(unix_seconds, kMinUtcTime, kMaxUtcTime);
  int64_t days = unix_seconds / 86400, secs = unix_seconds % 86400;
  if (secs < 0) {  // floor, not truncation, before 1970
    secs += 86400;
    --days;
  }
  int64_t year = 0, month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  char buf[64];  // wide enough for any int, as the compiler checks
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(year),
                static_cast<int>(month), static_cast<int>(day), static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

Result<Envelope> ParseEnvelope(std::string_view text) {
  OXIDE_ASSIGN_OR_RETURN(json j, ParseObject(text, "envelope"));
  return EnvelopeFromJson(j);
}

std::string EncodeEnvelope(const Envelope& e) { return EnvelopeJson(e).dump(); }

Result<ReleaseMetadata> ParseReleaseMetadata(std::string_view text) {
  OXIDE_ASSIGN_OR_RETURN(json j, ParseObject(text, "release metadata"));
  constexpr std::string_view kWhat = "release metadata";
  ReleaseMetadata m;
  OXIDE_ASSIGN_OR_RETURN(m.model, GetString(j, "model", kWhat, 128));
  OXIDE_ASSIGN_OR_RETURN(m.version, GetString(j, "version", kWhat, 128));
  if (!IsSafeId(m.model) || !IsSafeId(m.version)) {
    return InvalidArgument("release metadata: unsafe model or version id");
  }
  OXIDE_ASSIGN_OR_RETURN(m.sha256, GetString(j, "sha256", kWhat, 64));
  if (!IsLowerHex64(m.sha256)) {
    return InvalidArgument("release metadata: 'sha256' must be 64 lower-case hex characters");
  }
  OXIDE_ASSIGN_OR_RETURN(m.size, GetUnsigned(j, "size", kWhat));
  OXIDE_ASSIGN_OR_RETURN(m.counter, GetUnsigned(j, "counter", kWhat));
  OXIDE_ASSIGN_OR_RETURN(std::string expires, GetString(j, "expires", kWhat, 32));
  auto t = ParseUtcTime(expires);
  if (!t.ok()) return std::move(t).status().WithContext("release metadata 'expires'");
  m.expires_unix = *t;
  return m;
}

std::string EncodeReleaseMetadata(const ReleaseMetadata& m) {
  json j = {{"model", m.model}, {"version", m.version}, {"sha256", m.sha256},
            {"size", m.size},   {"counter", m.counter}, {"expires", FormatUtcTime(m.expires_unix)}};
  return j.dump();
}

Result<KeySet> ParseKeySet(std::string_view text) {
  OXIDE_ASSIGN_OR_RETURN(json j, ParseObject(text, "key set"));
  constexpr std::string_view kWhat = "key set";
  KeySet k;
  OXIDE_ASSIGN_OR_RETURN(k.version, GetUnsigned(j, "version", kWhat));
  if (k.version == 0) return InvalidArgument("key set: 'version' must be at least 1");
  OXIDE_ASSIGN_OR_RETURN(uint64_t threshold, GetUnsigned(j, "threshold", kWhat));
  auto keys = j.find("keys");
  if (keys == j.end() || !keys->is_array() || keys->empty() || keys->size() > kMaxKeys) {
    return InvalidArgument("key set: 'keys' must be an array of 1.." + std::to_string(kMaxKeys) +
                           " keys");
  }
  if (threshold == 0 || threshold > keys->size()) {
    return InvalidArgument("key set: 'threshold' must be 1..number of keys");
  }
  k.threshold = static_cast<uint32_t>(threshold);
  std::set<std::string> seen;
  for (const json& entry : *keys) {
    if (!entry.is_object()) return InvalidArgument("key set: a key must be an object");
    TrustedKey key;
    OXIDE_ASSIGN_OR_RETURN(key.keyid, GetString(entry, "keyid", kWhat, 64));
    OXIDE_ASSIGN_OR_RETURN(std::string pub, GetString(entry, "public_key", kWhat, 64));
    OXIDE_ASSIGN_OR_RETURN(std::string raw,
                           Base64DecodeExact(pub, kPublicKeySize, "key set 'public_key'"));
    std::copy(raw.begin(), raw.end(), key.public_key.begin());
    if (key.keyid != KeyId(key.public_key)) {
      return InvalidArgument("key set: keyid " + key.keyid.substr(0, 16) +
                             "... is not the SHA-256 of its public key");
    }
    if (!seen.insert(key.keyid).second) return InvalidArgument("key set: duplicate key");
    k.keys.push_back(std::move(key));
  }
  OXIDE_ASSIGN_OR_RETURN(std::string expires, GetString(j, "expires", kWhat, 32));
  auto t = ParseUtcTime(expires);
  if (!t.ok()) return std::move(t).status().WithContext("key set 'expires'");
  k.expires_unix = *t;
  return k;
}

std::string EncodeKeySet(const KeySet& k) {
  json keys = json::array();
  for (const TrustedKey& key : k.keys) {
    std::string raw(key.public_key.begin(), key.public_key.end());
    keys.push_back({{"keyid", key.keyid}, {"public_key", Base64Encode(raw)}});
  }
  json j = {{"version", k.version},
            {"threshold", k.threshold},
            {"keys", std::move(keys)},
            {"expires", FormatUtcTime(k.expires_unix)}};
  return j.dump();
}

Result<std::vector<Envelope>> ParseKeyChain(std::string_view text) {
  constexpr size_t kMaxChain = 1024;
  if (text.size() > kMaxChain * kMaxEnvelopeSize / 16)
    return InvalidArgument("key chain: too large");
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("key chain: not a JSON object");
  auto sets = j.find("key_sets");
  if (sets == j.end() || !sets->is_array() || sets->size() > kMaxChain) {
    return InvalidArgument("key chain: 'key_sets' must be an array");
  }
  std::vector<Envelope> out;
  for (const json& e : *sets) {
    OXIDE_ASSIGN_OR_RETURN(Envelope env, EnvelopeFromJson(e));
    out.push_back(std::move(env));
  }
  return out;
}

std::string EncodeKeyChain(const std::vector<Envelope>& chain) {
  json sets = json::array();
  for (const Envelope& e : chain) sets.push_back(EnvelopeJson(e));
  return json{{"key_sets", std::move(sets)}}.dump();
}

Result<Envelope> SignEnvelope(std::string_view payload_type, std::string payload,
                              const std::vector<SigningKey>& keys) {
  Envelope e;
  e.payload_type = std::string(payload_type);
  e.payload = std::move(payload);
  const std::string pae = Pae(e.payload_type, e.payload);
  for (const SigningKey& key : keys) {
    OXIDE_ASSIGN_OR_RETURN(std::string sig, key.Sign(pae));
    e.signatures.push_back({KeyId(key.public_key()), std::move(sig)});
  }
  return e;
}

}  // namespace oxide::crypto
