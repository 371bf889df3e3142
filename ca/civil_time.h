// civil_time.h — (private to ca/) UTC calendar arithmetic without a clock, locale or time zone.
#pragma once

#include <cstdint>
#include <string>

#include "base/types.h"
#include "ca/error.h"

namespace ca {

struct CivilTime {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
  unsigned hour, minute, second;
};

CivilTime ToCivil(base::UnixTime t);
// Inverse of ToCivil for valid fields; out-of-range fields are not checked.
base::UnixTime FromCivil(const CivilTime& c);

// "YYYYMMDDhhmmss" for a certificate time; kInvalidArgument outside the years 1950..9999 that
// RFC 5280's UTCTime/GeneralizedTime can carry. Shared by every certificate time writer.
Result<std::string> CertificateTimeDigits(base::UnixTime t);

}  // namespace ca
