// SPDX-License-Identifier: Apache-2.0
// Compiled with -std=c++17: the first error must name C++20 and compilation must stop there
// (base/language_check.hpp), not go on into a hundred errors inside the C++20 code.
#include <ctattn/language_model.hpp>
#include <ctattn/training.hpp>

int main() { return 0; }
