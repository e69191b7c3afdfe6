// SPDX-License-Identifier: Apache-2.0
// Reader for the PyTorch reference vectors in shared/golden (format in its README):
//   case NAME / config KEY VALUE / array NAME RANK D0 D1 ... followed by row-major values.
// Test-only code: it may allocate (the library never does).
#pragma once

#include <cstddef>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef CTATTN_GOLDEN_DIR
#define CTATTN_GOLDEN_DIR "../shared/golden"
#endif

namespace ctattn_test {

struct golden_array {
    std::vector<std::size_t> shape;
    std::vector<double> values;
    std::size_t size() const { return values.size(); }
    double operator[](std::size_t i) const { return values[i]; }
    // Values as float, the precision the library computes in.
    std::vector<float> as_float() const { return std::vector<float>(values.begin(), values.end()); }
};

struct golden_case {
    std::string name;
    std::map<std::string, std::string> config;
    std::map<std::string, golden_array> arrays;
    bool loaded = false;

    bool has(const std::string& array_name) const { return arrays.count(array_name) != 0; }
    const golden_array& at(const std::string& array_name) const { return arrays.at(array_name); }
    std::string config_value(const std::string& key) const {
        auto it = config.find(key);
        return it == config.end() ? std::string() : it->second;
    }
    long config_int(const std::string& key) const { return std::stol(config_value(key)); }
};

inline std::string golden_path(const std::string& file_name) {
    return std::string(CTATTN_GOLDEN_DIR) + "/" + file_name;
}

// Loads one case; `loaded` is false when the file is missing or malformed.
inline golden_case load_golden(const std::string& file_name) {
    golden_case gc;
    std::ifstream in(golden_path(file_name));
    if (!in) return gc;
    std::string line;
    golden_array* current = nullptr;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        std::string head;
        words >> head;
        if (head == "case") {
            words >> gc.name;
            current = nullptr;
        } else if (head == "config") {
            std::string key, value;
            words >> key;
            std::getline(words >> std::ws, value);
            gc.config[key] = value;
            current = nullptr;
        } else if (head == "array") {
            std::string name;
            std::size_t rank = 0;
            words >> name >> rank;
            golden_array arr;
            std::size_t count = 1;
            for (std::size_t r = 0; r < rank; ++r) {
                std::size_t d = 0;
                words >> d;
                arr.shape.push_back(d);
                count *= d;
            }
            arr.values.reserve(count);
            current = &(gc.arrays[name] = std::move(arr));
        } else if (current != nullptr) {
            std::istringstream values(line);
            double v = 0.0;
            while (values >> v) current->values.push_back(v);
        }
    }
    for (const auto& [name, arr] : gc.arrays) {
        std::size_t count = 1;
        for (std::size_t d : arr.shape) count *= d;
        if (count != arr.values.size()) return golden_case{};
    }
    gc.loaded = !gc.name.empty();
    return gc;
}

}  // namespace ctattn_test
