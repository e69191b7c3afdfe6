// SPDX-License-Identifier: Apache-2.0
// Writes SVG heatmaps of known shapes with ctattn/text/heatmap_svg.hpp into the folder given as
// argv[1], and one manifest line per file on stdout: file panels rows cols query_pos0 mask
// columns. check_heatmap_svg.py parses every file as XML and checks the structure against the
// manifest, counting masked cells itself from the mask kind.
// Shapes: 1 token; 6 tokens x 4 heads with labels that need escaping; 6 labels that are not UTF-8;
// a decode slice (5 queries
// at positions 8..12 against 13 keys); 13 tokens x 3 heads in a 2-column grid with a sliding window;
// 5 tokens without a mask. Weights: a softmax per row over the visible keys of scores that vary
// with the head, so every panel differs.
#include <ctattn/text/heatmap_svg.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

using namespace ctattn;

float weights[4][16][16];

template <class Visible>
void fill(std::size_t heads, std::size_t rows, std::size_t cols, std::size_t pos0, const Visible& visible) {
    for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < rows; ++i) {
            double sum = 0.0;
            for (std::size_t j = 0; j < cols; ++j) {
                const bool shown = visible(pos0 + i, j, cols);
                weights[h][i][j] = shown ? float(std::exp(std::sin(double(1 + h) * double(i + 2 * j)))) : 0.0f;
                sum += weights[h][i][j];
            }
            for (std::size_t j = 0; j < cols; ++j) weights[h][i][j] = float(weights[h][i][j] / sum);
        }
}

struct file_sink {
    std::FILE* f;
    void operator()(const char* s, std::size_t n) const { std::fwrite(s, 1, n, f); }
};

template <class Visible>
bool write_case(const char* dir, const char* name, std::size_t heads, std::size_t rows, std::size_t cols,
                std::size_t pos0, const char* mask_name, std::size_t columns, const text::heatmap_labels& labels,
                const Visible& visible) {
    fill(heads, rows, cols, pos0, visible);
    static char titles[4][40];  // "layer 0 head " and up to 20 digits
    text::heatmap_panel panels[4];
    for (std::size_t h = 0; h < heads; ++h) {
        std::snprintf(titles[h], sizeof titles[h], "layer 0 head %zu", h);
        panels[h] = {&weights[h][0][0], rows, cols, 16, pos0, titles[h]};
    }
    char path[512];
    std::snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) return false;
    text::write_heatmap_svg(file_sink{f}, panels, heads, columns, labels, visible, name);
    std::fclose(f);
    std::printf("%s.svg %zu %zu %zu %zu %s %zu\n", name, heads, rows, cols, pos0, mask_name, columns);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const char* dir = argv[1];
    static const char* const words[6] = {"the", "<cat>", "sat & 'ran'", "on", "\"the\"", "mat"};
    static const std::uint32_t ids[16] = {1, 403, 407, 261, 378, 29, 500, 511, 0, 7, 77, 300, 12, 5, 6, 9};
    const text::heatmap_labels word_labels{words, nullptr}, id_labels{nullptr, ids}, position_labels{};
    bool ok = true;
    ok = ok && write_case(dir, "one_token", 1, 1, 1, 0, "causal", 1, id_labels, text::mask_visibility<causal_mask>{});
    ok = ok && write_case(dir, "four_heads_words", 4, 6, 6, 0, "causal", 4, word_labels,
                          text::mask_visibility<causal_mask>{});
    ok = ok && write_case(dir, "decode_slice", 1, 5, 13, 8, "causal", 1, id_labels,
                          text::mask_visibility<causal_mask>{});
    ok = ok && write_case(dir, "window3_grid", 3, 13, 13, 0, "window3", 2, position_labels,
                          text::mask_visibility<sliding_window_mask<3>>{});
    ok = ok && write_case(dir, "no_mask", 1, 5, 5, 0, "none", 1, position_labels, text::mask_visibility<no_mask>{});
    // Token pieces are bytes: a split multi-byte character, a stray 0xFF, a surrogate and an
    // overlong form are not UTF-8 and must not reach the file as they are; whole characters must.
    static const char* const bytes[6] = {"\xE2\x96", "\xFF", "caf\xC3\xA9", "\xED\xA0\x80", "\xC0\xAF",
                                         "\xF0\x9F\x98\x80"};
    const text::heatmap_labels byte_labels{bytes, nullptr};
    ok = ok && write_case(dir, "byte_labels", 1, 6, 6, 0, "causal", 1, byte_labels, text::mask_visibility<causal_mask>{});
    return ok ? 0 : 1;
}
