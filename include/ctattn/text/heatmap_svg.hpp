// SPDX-License-Identifier: Apache-2.0
// Attention weights as SVG heatmaps, the grid the explainers draw: one panel per head, row i the
// token asking (query), column j the token looked at (key), cell (i, j) shaded by P_ij (darker =
// more attention; the shade is sqrt(P_ij) so the small weights of long rows stay visible), masked
// cells hatched, token labels (or token ids, or positions) on both axes, a title per panel, and
// any number of panels in one grid (all heads of a layer).
// Output goes through a caller's sink, any callable sink(const char* text, std::size_t length):
// no heap, no files, formatting into a small stack buffer.
//
//   ctattn::text::heatmap_panel panel{weights, rows, cols, row_stride, 0, "layer 0 head 3"};
//   ctattn::text::write_heatmap_svg(sink, &panel, 1, 1, labels, ctattn::text::mask_visibility<causal_mask>());
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "../base/mask.hpp"

namespace ctattn::text {

// One head's weights: element (i, j) at weights[i * row_stride + j], row i being the query at
// absolute position query_pos0 + i (decode steps start later), column j the key at position j.
struct heatmap_panel {
    const float* weights;
    std::size_t rows;
    std::size_t cols;
    std::size_t row_stride;
    std::size_t query_pos0;
    const char* title;  // e.g. "layer 0 head 3"
};

// Axis labels by absolute position: words[pos] when there are words, else "#id" from ids[pos],
// else the position itself.
struct heatmap_labels {
    const char* const* words = nullptr;
    const std::uint32_t* ids = nullptr;
};

// Which cells a mask hides: visible(query_pos, key_pos, n_keys) for a mask policy (base/mask.hpp).
template <class Mask>
struct mask_visibility {
    typename Mask::params params{};
    bool operator()(std::size_t query_pos, std::size_t key_pos, std::size_t n_keys) const noexcept {
        return is_visible<Mask>(params, query_pos, key_pos, n_keys);
    }
};

namespace detail {

template <class Sink>
struct svg_writer {
    Sink& sink;

    void text(const char* s) {
        std::size_t n = 0;
        while (s[n] != '\0') ++n;
        sink(s, n);
    }
    template <class... Args>
    void format(const char* fmt, Args... args) {
        char buffer[256];
        const int n = std::snprintf(buffer, sizeof buffer, fmt, args...);
        if (n > 0) sink(buffer, static_cast<std::size_t>(n) < sizeof buffer ? static_cast<std::size_t>(n) : sizeof buffer - 1);
    }
    // Character data and attribute values: the five XML specials escaped, control characters
    // (invalid in XML 1.0) replaced by '?'.
    void escaped(const char* s) {
        for (; *s != '\0'; ++s) {
            const unsigned char c = static_cast<unsigned char>(*s);
            switch (c) {
                case '&': text("&amp;"); break;
                case '<': text("&lt;"); break;
                case '>': text("&gt;"); break;
                case '"': text("&quot;"); break;
                case '\'': text("&apos;"); break;
                default: {
                    const char out = c < 0x20 ? '?' : static_cast<char>(c);
                    sink(&out, 1);
                }
            }
        }
    }
};

// The label text of position pos into buffer (returned), at most cap - 1 characters.
inline const char* label_text(const heatmap_labels& labels, std::size_t pos, char* buffer, std::size_t cap) noexcept {
    if (labels.words != nullptr) return labels.words[pos];
    if (labels.ids != nullptr)
        std::snprintf(buffer, cap, "#%lu", static_cast<unsigned long>(labels.ids[pos]));
    else
        std::snprintf(buffer, cap, "%lu", static_cast<unsigned long>(pos));
    return buffer;
}

inline std::size_t string_length(const char* s) noexcept {
    std::size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

}  // namespace detail

// Writes one SVG document holding n_panels panels, `columns` per row of the grid, under an
// optional overall title (nullptr: none). Every panel must have the same rows and cols.
// visible(query_pos, key_pos, n_keys) says which cells the mask leaves; hidden cells are hatched
// and carry class "masked", shown ones class "cell" (rows x cols of the two per panel). With
// tooltips, each shown cell carries a <title> "query -> key: weight" (about 40% of the bytes).
template <class Sink, class Visible>
void write_heatmap_svg(Sink&& sink, const heatmap_panel* panels, std::size_t n_panels, std::size_t columns,
                       const heatmap_labels& labels, const Visible& visible, const char* title = nullptr,
                       bool tooltips = true) {
    detail::svg_writer<Sink> out{sink};
    if (n_panels == 0 || columns == 0) return;
    const std::size_t rows = panels[0].rows, cols = panels[0].cols;
    const std::size_t longest_side = rows > cols ? rows : cols;
    // Cells between 6 and 28 px, a panel about 640 px across whatever the sequence length.
    const std::size_t cell = longest_side == 0 ? 28 : (640 / longest_side < 6 ? 6 : (640 / longest_side > 28 ? 28 : 640 / longest_side));
    const std::size_t font = cell * 3 / 4 < 6 ? 6 : (cell * 3 / 4 > 13 ? 13 : cell * 3 / 4);
    char buffer[32];
    std::size_t longest_label = 1;
    const std::size_t last_query = panels[0].query_pos0 + rows;
    const std::size_t n_positions = last_query > cols ? last_query : cols;
    for (std::size_t pos = 0; pos < n_positions; ++pos) {
        const std::size_t n = detail::string_length(detail::label_text(labels, pos, buffer, sizeof buffer));
        longest_label = n > longest_label ? n : longest_label;
    }
    if (longest_label > 16) longest_label = 16;
    const std::size_t label_space = longest_label * font * 6 / 10 + 8;
    const std::size_t panel_w = label_space + cols * cell + 16, panel_h = 24 + label_space + rows * cell + 16;
    const std::size_t grid_rows = (n_panels + columns - 1) / columns;
    const std::size_t grid_cols = n_panels < columns ? n_panels : columns;
    const std::size_t top = (title != nullptr ? 26 : 0) + 2 * 14 + 8;  // title, two legend lines
    const std::size_t grid_width = grid_cols * panel_w + 16;
    const std::size_t width = grid_width > 440 ? grid_width : 440, height = top + grid_rows * panel_h;

    out.format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%lu\" "
               "height=\"%lu\" viewBox=\"0 0 %lu %lu\" font-family=\"sans-serif\">\n",
               (unsigned long)width, (unsigned long)height, (unsigned long)width, (unsigned long)height);
    out.text("<defs><pattern id=\"masked\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
             "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#f2f2f2\"/>"
             "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#bbbbbb\" stroke-width=\"1.5\"/></pattern></defs>\n");
    out.format("<rect width=\"%lu\" height=\"%lu\" fill=\"white\"/>\n", (unsigned long)width, (unsigned long)height);
    if (title != nullptr) {
        out.text("<text class=\"title\" x=\"8\" y=\"22\" font-size=\"16\" font-weight=\"bold\">");
        out.escaped(title);
        out.text("</text>\n");
    }
    out.format("<text x=\"8\" y=\"%lu\" font-size=\"11\" fill=\"#555555\">rows: the token asking (query); columns: "
               "the token looked at (key)</text>\n",
               (unsigned long)(top - 22));
    out.format("<text x=\"8\" y=\"%lu\" font-size=\"11\" fill=\"#555555\">darker = more attention (shade = square "
               "root of the weight); hatched = masked</text>\n",
               (unsigned long)(top - 8));

    for (std::size_t p = 0; p < n_panels; ++p) {
        const heatmap_panel& panel = panels[p];
        const std::size_t x0 = 8 + (p % columns) * panel_w, y0 = top + (p / columns) * panel_h;
        const std::size_t grid_x = label_space, grid_y = 24 + label_space;
        out.format("<g class=\"panel\" transform=\"translate(%lu,%lu)\">\n", (unsigned long)x0, (unsigned long)y0);
        out.text("<text class=\"panel-title\" x=\"0\" y=\"16\" font-size=\"13\" font-weight=\"bold\">");
        out.escaped(panel.title != nullptr ? panel.title : "");
        out.text("</text>\n");
        // Key labels along the top, rotated; query labels down the left.
        for (std::size_t j = 0; j < cols; ++j) {
            const std::size_t cx = grid_x + j * cell + cell / 2 + font / 3;
            out.format("<text class=\"key-label\" font-size=\"%lu\" transform=\"translate(%lu,%lu) rotate(-90)\">",
                       (unsigned long)font, (unsigned long)cx, (unsigned long)(grid_y - 4));
            out.escaped(detail::label_text(labels, j, buffer, sizeof buffer));
            out.text("</text>\n");
        }
        for (std::size_t i = 0; i < rows; ++i) {
            out.format("<text class=\"query-label\" font-size=\"%lu\" x=\"%lu\" y=\"%lu\" text-anchor=\"end\">",
                       (unsigned long)font, (unsigned long)(grid_x - 4),
                       (unsigned long)(grid_y + i * cell + cell / 2 + font / 3));
            out.escaped(detail::label_text(labels, panel.query_pos0 + i, buffer, sizeof buffer));
            out.text("</text>\n");
        }
        for (std::size_t i = 0; i < rows; ++i) {
            const std::size_t query_pos = panel.query_pos0 + i;
            for (std::size_t j = 0; j < cols; ++j) {
                const std::size_t x = grid_x + j * cell, y = grid_y + i * cell;
                if (!visible(query_pos, j, cols)) {
                    out.format("<rect class=\"masked\" x=\"%lu\" y=\"%lu\" width=\"%lu\" height=\"%lu\" "
                               "fill=\"url(#masked)\"/>\n",
                               (unsigned long)x, (unsigned long)y, (unsigned long)cell, (unsigned long)cell);
                    continue;
                }
                float w = panel.weights[i * panel.row_stride + j];
                w = w > 0.0f ? (w < 1.0f ? w : 1.0f) : 0.0f;  // NaN -> 0
                const double shade = std::sqrt(double(w));
                // White to dark blue (8, 48, 107).
                const int r = int(255.0 - shade * (255.0 - 8.0) + 0.5), g = int(255.0 - shade * (255.0 - 48.0) + 0.5),
                          b = int(255.0 - shade * (255.0 - 107.0) + 0.5);
                out.format("<rect class=\"cell\" x=\"%lu\" y=\"%lu\" width=\"%lu\" height=\"%lu\" fill=\"#%02x%02x%02x\"",
                           (unsigned long)x, (unsigned long)y, (unsigned long)cell, (unsigned long)cell, r, g, b);
                if (!tooltips) {
                    out.text("/>\n");
                    continue;
                }
                out.text("><title>");
                out.escaped(detail::label_text(labels, query_pos, buffer, sizeof buffer));
                out.text(" -&gt; ");
                out.escaped(detail::label_text(labels, j, buffer, sizeof buffer));
                out.format(": %.4f</title></rect>\n", double(panel.weights[i * panel.row_stride + j]));
            }
        }
        out.format("<rect x=\"%lu\" y=\"%lu\" width=\"%lu\" height=\"%lu\" fill=\"none\" stroke=\"#888888\"/>\n",
                   (unsigned long)grid_x, (unsigned long)grid_y, (unsigned long)(cols * cell),
                   (unsigned long)(rows * cell));
        out.text("</g>\n");
    }
    out.text("</svg>\n");
}

}  // namespace ctattn::text
