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

/// One head's weights: element (i, j) at weights[i * row_stride + j], row i being the query at
/// absolute position query_pos0 + i (decode steps start later), column j the key at position j.
struct heatmap_panel {
    const float* weights;    ///< (rows, row_stride) attention weights P, not owned
    std::size_t rows;        ///< queries shown
    std::size_t cols;        ///< keys shown
    std::size_t row_stride;  ///< floats from one query's row to the next (>= cols)
    std::size_t query_pos0;  ///< absolute position of row 0's query
    const char* title;       ///< e.g. "layer 0 head 3"
};

/// Axis labels by absolute position: words[pos] when there are words, else "#id" from ids[pos],
/// else the position itself.
struct heatmap_labels {
    const char* const* words = nullptr;  ///< one text per position, or nullptr
    const std::uint32_t* ids = nullptr;  ///< one token id per position, or nullptr
};

/// Which cells a mask hides: visible(query_pos, key_pos, n_keys) for a mask policy (base/mask.hpp).
template <class Mask>
struct mask_visibility {
    typename Mask::params params{};  ///< the mask's run-time parameter
    /// Whether the key at key_pos is visible to the query at query_pos.
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
    // (invalid in XML 1.0) replaced by '?', and every byte that does not start a well-formed UTF-8
    // sequence of an XML character replaced by U+FFFD, so the file parses whatever the labels hold
    // (tokenizer pieces are raw bytes: a multi-byte character split across tokens is common).
    void escaped(const char* s) {
        const auto* u = reinterpret_cast<const unsigned char*>(s);
        while (*u != 0) {
            const unsigned char c = *u;
            if (c >= 0x80) {
                const std::size_t n = utf8_sequence_length(u);
                if (n == 0) {
                    text("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER for one stray byte
                    ++u;
                } else {
                    sink(reinterpret_cast<const char*>(u), n);
                    u += n;
                }
                continue;
            }
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
            ++u;
        }
    }

    // Length (2 to 4) of the well-formed UTF-8 sequence at s (s[0] >= 0x80), or 0: a continuation
    // byte alone, a truncated sequence, an overlong form, a surrogate, a code point past U+10FFFF,
    // or U+FFFE / U+FFFF (not XML characters). RFC 3629's table, byte by byte.
    static std::size_t utf8_sequence_length(const unsigned char* s) noexcept {
        const auto continuation = [](unsigned char b) { return b >= 0x80 && b <= 0xBF; };
        const unsigned char c = s[0];
        if (c >= 0xC2 && c <= 0xDF) return continuation(s[1]) ? 2 : 0;
        if (c >= 0xE0 && c <= 0xEF) {
            const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (!(s[1] >= lo && s[1] <= hi) || !continuation(s[2])) return 0;
            if (c == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF)) return 0;  // U+FFFE, U+FFFF
            return 3;
        }
        if (c >= 0xF0 && c <= 0xF4) {
            const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            return (s[1] >= lo && s[1] <= hi) && continuation(s[2]) && continuation(s[3]) ? 4 : 0;
        }
        return 0;
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

// Sizes in px of a grid of panels, all from the panels' extents, the labels and the title.
struct heatmap_geometry {
    std::size_t rows = 0, cols = 0;  // of every panel
    std::size_t cell = 0;            // side of a cell: between 6 and 28, a panel about 640 across
    std::size_t font = 0;            // label size: 3/4 of a cell, between 6 and 13
    std::size_t label_space = 0;     // room for the longest label (at most 16 characters)
    std::size_t panel_w = 0, panel_h = 0;
    std::size_t columns = 0;         // panels per grid row
    std::size_t top = 0;             // the title and the two legend lines above the panels
    std::size_t width = 0, height = 0;
};

inline heatmap_geometry heatmap_layout(const heatmap_panel* panels, std::size_t n_panels, std::size_t columns,
                                       const heatmap_labels& labels, const char* title) noexcept {
    heatmap_geometry g;
    g.rows = panels[0].rows;
    g.cols = panels[0].cols;
    g.columns = columns;
    const std::size_t longest_side = g.rows > g.cols ? g.rows : g.cols;
    // Cells between 6 and 28 px, a panel about 640 px across whatever the sequence length.
    g.cell = longest_side == 0 ? 28 : (640 / longest_side < 6 ? 6 : (640 / longest_side > 28 ? 28 : 640 / longest_side));
    g.font = g.cell * 3 / 4 < 6 ? 6 : (g.cell * 3 / 4 > 13 ? 13 : g.cell * 3 / 4);
    char buffer[32];
    std::size_t longest_label = 1;
    const std::size_t last_query = panels[0].query_pos0 + g.rows;
    const std::size_t n_positions = last_query > g.cols ? last_query : g.cols;
    for (std::size_t pos = 0; pos < n_positions; ++pos) {
        const std::size_t n = string_length(label_text(labels, pos, buffer, sizeof buffer));
        longest_label = n > longest_label ? n : longest_label;
    }
    if (longest_label > 16) longest_label = 16;
    g.label_space = longest_label * g.font * 6 / 10 + 8;
    g.panel_w = g.label_space + g.cols * g.cell + 16;
    g.panel_h = 24 + g.label_space + g.rows * g.cell + 16;
    const std::size_t grid_rows = (n_panels + columns - 1) / columns;
    const std::size_t grid_cols = n_panels < columns ? n_panels : columns;
    g.top = (title != nullptr ? 26 : 0) + 2 * 14 + 8;  // title, two legend lines
    const std::size_t grid_width = grid_cols * g.panel_w + 16;
    g.width = grid_width > 440 ? grid_width : 440;
    g.height = g.top + grid_rows * g.panel_h;
    return g;
}

// The document's opening: the <svg> element, the hatch pattern, the background, the optional
// title and the two legend lines.
template <class Sink>
void write_svg_preamble(svg_writer<Sink>& out, const heatmap_geometry& g, const char* title) {
    out.format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%lu\" "
               "height=\"%lu\" viewBox=\"0 0 %lu %lu\" font-family=\"sans-serif\">\n",
               (unsigned long)g.width, (unsigned long)g.height, (unsigned long)g.width, (unsigned long)g.height);
    out.text("<defs><pattern id=\"masked\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
             "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#f2f2f2\"/>"
             "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#bbbbbb\" stroke-width=\"1.5\"/></pattern></defs>\n");
    out.format("<rect width=\"%lu\" height=\"%lu\" fill=\"white\"/>\n", (unsigned long)g.width, (unsigned long)g.height);
    if (title != nullptr) {
        out.text("<text class=\"title\" x=\"8\" y=\"22\" font-size=\"16\" font-weight=\"bold\">");
        out.escaped(title);
        out.text("</text>\n");
    }
    out.format("<text x=\"8\" y=\"%lu\" font-size=\"11\" fill=\"#555555\">rows: the token asking (query); columns: "
               "the token looked at (key)</text>\n",
               (unsigned long)(g.top - 22));
    out.format("<text x=\"8\" y=\"%lu\" font-size=\"11\" fill=\"#555555\">darker = more attention (shade = square "
               "root of the weight); hatched = masked</text>\n",
               (unsigned long)(g.top - 8));
}

// Key labels along the top, rotated; query labels down the left. (grid_x, grid_y): the panel's
// first cell.
template <class Sink>
void write_axis_labels(svg_writer<Sink>& out, const heatmap_geometry& g, const heatmap_panel& panel,
                       const heatmap_labels& labels, std::size_t grid_x, std::size_t grid_y) {
    char buffer[32];
    for (std::size_t j = 0; j < g.cols; ++j) {
        const std::size_t cx = grid_x + j * g.cell + g.cell / 2 + g.font / 3;
        out.format("<text class=\"key-label\" font-size=\"%lu\" transform=\"translate(%lu,%lu) rotate(-90)\">",
                   (unsigned long)g.font, (unsigned long)cx, (unsigned long)(grid_y - 4));
        out.escaped(label_text(labels, j, buffer, sizeof buffer));
        out.text("</text>\n");
    }
    for (std::size_t i = 0; i < g.rows; ++i) {
        out.format("<text class=\"query-label\" font-size=\"%lu\" x=\"%lu\" y=\"%lu\" text-anchor=\"end\">",
                   (unsigned long)g.font, (unsigned long)(grid_x - 4),
                   (unsigned long)(grid_y + i * g.cell + g.cell / 2 + g.font / 3));
        out.escaped(label_text(labels, panel.query_pos0 + i, buffer, sizeof buffer));
        out.text("</text>\n");
    }
}

// Cell (i, j) at (x, y): hatched with class "masked" when the mask hides it, otherwise class
// "cell" shaded from white to dark blue (8, 48, 107) by sqrt(P_ij), with the tooltip
// "query -> key: weight" when asked for.
template <class Sink, class Visible>
void write_cell(svg_writer<Sink>& out, const heatmap_geometry& g, const heatmap_panel& panel,
                const heatmap_labels& labels, const Visible& visible, bool tooltips, std::size_t i, std::size_t j,
                std::size_t x, std::size_t y) {
    const std::size_t query_pos = panel.query_pos0 + i;
    if (!visible(query_pos, j, g.cols)) {
        out.format("<rect class=\"masked\" x=\"%lu\" y=\"%lu\" width=\"%lu\" height=\"%lu\" "
                   "fill=\"url(#masked)\"/>\n",
                   (unsigned long)x, (unsigned long)y, (unsigned long)g.cell, (unsigned long)g.cell);
        return;
    }
    float w = panel.weights[i * panel.row_stride + j];
    w = w > 0.0f ? (w < 1.0f ? w : 1.0f) : 0.0f;  // NaN -> 0
    const double shade = std::sqrt(double(w));
    const int r = int(255.0 - shade * (255.0 - 8.0) + 0.5), green = int(255.0 - shade * (255.0 - 48.0) + 0.5),
              b = int(255.0 - shade * (255.0 - 107.0) + 0.5);
    out.format("<rect class=\"cell\" x=\"%lu\" y=\"%lu\" width=\"%lu\" height=\"%lu\" fill=\"#%02x%02x%02x\"",
               (unsigned long)x, (unsigned long)y, (unsigned long)g.cell, (unsigned long)g.cell, r, green, b);
    if (!tooltips) {
        out.text("/>\n");
        return;
    }
    char buffer[32];
    out.text("><title>");
    out.escaped(label_text(labels, query_pos, buffer, sizeof buffer));
    out.text(" -&gt; ");
    out.escaped(label_text(labels, j, buffer, sizeof buffer));
    out.format(": %.4f</title></rect>\n", double(panel.weights[i * panel.row_stride + j]));
}

// Panel p of the grid: a <g class="panel"> with its title, axis labels, rows x cols cells and a frame.
template <class Sink, class Visible>
void write_panel(svg_writer<Sink>& out, const heatmap_geometry& g, const heatmap_panel& panel, std::size_t p,
                 const heatmap_labels& labels, const Visible& visible, bool tooltips) {
    const std::size_t x0 = 8 + (p % g.columns) * g.panel_w, y0 = g.top + (p / g.columns) * g.panel_h;
    const std::size_t grid_x = g.label_space, grid_y = 24 + g.label_space;
    out.format("<g class=\"panel\" transform=\"translate(%lu,%lu)\">\n", (unsigned long)x0, (unsigned long)y0);
    out.text("<text class=\"panel-title\" x=\"0\" y=\"16\" font-size=\"13\" font-weight=\"bold\">");
    out.escaped(panel.title != nullptr ? panel.title : "");
    out.text("</text>\n");
    write_axis_labels(out, g, panel, labels, grid_x, grid_y);
    for (std::size_t i = 0; i < g.rows; ++i)
        for (std::size_t j = 0; j < g.cols; ++j)
            write_cell(out, g, panel, labels, visible, tooltips, i, j, grid_x + j * g.cell, grid_y + i * g.cell);
    out.format("<rect x=\"%lu\" y=\"%lu\" width=\"%lu\" height=\"%lu\" fill=\"none\" stroke=\"#888888\"/>\n",
               (unsigned long)grid_x, (unsigned long)grid_y, (unsigned long)(g.cols * g.cell),
               (unsigned long)(g.rows * g.cell));
    out.text("</g>\n");
}

}  // namespace detail

/// Writes one SVG document holding n_panels panels, `columns` per row of the grid, under an
/// optional overall title (nullptr: none). Every panel must have the same rows and cols.
/// visible(query_pos, key_pos, n_keys) says which cells the mask leaves; hidden cells are hatched
/// and carry class "masked", shown ones class "cell" (rows x cols of the two per panel). With
/// tooltips, each shown cell carries a `<title>` "query -> key: weight" (about 40% of the bytes).
template <class Sink, class Visible>
void write_heatmap_svg(Sink&& sink, const heatmap_panel* panels, std::size_t n_panels, std::size_t columns,
                       const heatmap_labels& labels, const Visible& visible, const char* title = nullptr,
                       bool tooltips = true) {
    detail::svg_writer<Sink> out{sink};
    if (n_panels == 0 || columns == 0) return;
    const detail::heatmap_geometry geometry = detail::heatmap_layout(panels, n_panels, columns, labels, title);
    detail::write_svg_preamble(out, geometry, title);
    for (std::size_t p = 0; p < n_panels; ++p)
        detail::write_panel(out, geometry, panels[p], p, labels, visible, tooltips);
    out.text("</svg>\n");
}

}  // namespace ctattn::text
