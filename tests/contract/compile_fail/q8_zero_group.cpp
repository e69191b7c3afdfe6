// SPDX-License-Identifier: Apache-2.0
// Invalid: a Q8 group of zero codes. Must not compile.
#include <ctattn/base/weight_format.hpp>

ctattn::q8_group_rule<0, 0> rule;
