// civil_time.cc — Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
#include "ca/civil_time.h"

#include <cstdio>

namespace ca {

CivilTime ToCivil(base::UnixTime t) {
  int64_t z = (t >= 0 ? t : t - 86399) / 86400;  // floor division: days since the epoch
  const int64_t secs = t - z * 86400;
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return CivilTime{static_cast<int64_t>(yoe) + era * 400 + (m <= 2),
                   m,
                   d,
                   static_cast<unsigned>(secs / 3600),
                   static_cast<unsigned>(secs / 60 % 60),
                   static_cast<unsigned>(secs % 60)};
}

base::UnixTime FromCivil(const CivilTime& c) {
  const int64_t y = c.year - (c.month <= 2);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned mp = c.month > 2 ? c.month - 3 : c.month + 9;
  const unsigned doy = (153 * mp + 2) / 5 + c.day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + static_cast<int64_t>(doe) - 719468;
  return days * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
}

Result<std::string> CertificateTimeDigits(base::UnixTime t) {
  const CivilTime c = ToCivil(t);
  if (c.year < 1950 || c.year > 9999) {
    return Fail(Code::kInvalidArgument,
                "certificate time out of range: year " + std::to_string(c.year));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld%02u%02u%02u%02u%02u", static_cast<long long>(c.year),
                c.month, c.day, c.hour, c.minute, c.second);
  return std::string(buf);
}

}  // namespace ca
