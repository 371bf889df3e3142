// civil_time.h — (private to ca/) UTC calendar arithmetic without a clock, locale or time zone.
#pragma once

#include <cstdint>

#include "ca/types.h"

namespace ca {

struct CivilTime {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
  unsigned hour, minute, second;
};

CivilTime ToCivil(UnixTime t);
// Inverse of ToCivil for valid fields; out-of-range fields are not checked.
UnixTime FromCivil(const CivilTime& c);

}  // namespace ca
