// SPDX-License-Identifier: Apache-2.0
// The seed-000 explainer's data preparation: a text is split into sentences (ending at . ! ?) and
// words (runs of letters and apostrophes, compared without case); every distinct word is a token,
// numbered in order of first appearance; each sentence of L words gives the L - 1 training pairs
//   (w_1 .. w_k) -> w_{k+1},   k = 1 .. L-1.
// "I love pizza. You love burgers. ..." (six sentences) gives 22 tokens and 23 pairs.
// Fixed capacities, no heap: a word longer than MaxWordLength, or too many words or tokens, is
// reported as status::invalid_length (pairs never outnumber words).
#pragma once

#include <ctattn/base/language_check.hpp>  // first: under an older -std the first error names C++20

#include <cstddef>
#include <cstdint>

#include <ctattn/base/status.hpp>

namespace ctattn::train {

template <std::size_t MaxWords, std::size_t MaxVocab, std::size_t MaxWordLength = 16>
struct word_corpus {
    struct pair {
        std::size_t begin;   // first context word (index into words)
        std::size_t length;  // context words
        std::uint32_t target;
    };
    char spelling[MaxVocab][MaxWordLength + 1] = {};  // each token as first seen
    std::size_t vocab = 0;
    std::uint32_t words[MaxWords] = {};  // the text as token ids
    std::size_t word_count = 0;
    pair pairs[MaxWords] = {};
    std::size_t pair_count = 0;
    std::size_t longest_context = 0;

    const std::uint32_t* context(const pair& p) const noexcept { return words + p.begin; }

    // Tokenises text (NUL-terminated); returns ok, invalid_argument for a null text, or
    // invalid_length when a capacity is exceeded. A failed build leaves the corpus as it was: a
    // first pass only counts (checking every capacity against the text itself), the second writes.
    [[nodiscard]] status build(const char* text) noexcept {
        if (text == nullptr) return status::invalid_argument;
        if (const status s = check_capacities(text); s != status::ok) return s;
        vocab = word_count = pair_count = longest_context = 0;
        std::size_t sentence_start = 0;
        for (const char* c = text;; ++c) {
            if (is_word_char(*c)) {
                char word[MaxWordLength + 1] = {};
                std::size_t length = 0;
                for (; is_word_char(*c); ++c) word[length++] = *c;
                words[word_count++] = intern(word);
            }
            if (ends_sentence(*c)) {
                for (std::size_t k = sentence_start + 1; k < word_count; ++k) {
                    pairs[pair_count++] = {sentence_start, k - sentence_start, words[k]};
                    if (k - sentence_start > longest_context) longest_context = k - sentence_start;
                }
                sentence_start = word_count;
            }
            if (*c == '\0') break;
        }
        return status::ok;
    }

private:
    static bool is_word_char(char c) noexcept {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'';
    }
    static bool ends_sentence(char c) noexcept { return c == '.' || c == '!' || c == '?' || c == '\0'; }
    static char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
    static bool same_word(const char* a, const char* b) noexcept {
        for (; *a && *b; ++a, ++b)
            if (lower(*a) != lower(*b)) return false;
        return *a == *b;
    }
    // Whether the word starting at a equals the one starting at b (runs of word characters).
    static bool same_word_in_text(const char* a, const char* b) noexcept {
        for (; is_word_char(*a) && is_word_char(*b); ++a, ++b)
            if (lower(*a) != lower(*b)) return false;
        return !is_word_char(*a) && !is_word_char(*b);
    }
    // The counting pass: word lengths, words, distinct words (each compared with every earlier
    // word of the text: quadratic, fine for an explainer's few sentences) and pairs (at most one
    // per word) against the capacities, touching nothing.
    static status check_capacities(const char* text) noexcept {
        std::size_t word_total = 0, distinct = 0;
        for (const char* c = text; *c != '\0';) {
            if (!is_word_char(*c)) {
                ++c;
                continue;
            }
            const char* start = c;
            std::size_t length = 0;
            for (; is_word_char(*c); ++c) ++length;
            if (length > MaxWordLength || ++word_total > MaxWords) return status::invalid_length;
            bool seen = false;
            for (const char* e = text; e < start && !seen;) {
                if (!is_word_char(*e)) {
                    ++e;
                    continue;
                }
                seen = same_word_in_text(e, start);
                while (is_word_char(*e)) ++e;
            }
            if (!seen && ++distinct > MaxVocab) return status::invalid_length;
        }
        return status::ok;
    }
    // The word's id, added to the vocabulary if new (check_capacities guaranteed the room).
    std::uint32_t intern(const char* word) noexcept {
        for (std::size_t t = 0; t < vocab; ++t)
            if (same_word(spelling[t], word)) return std::uint32_t(t);
        for (std::size_t i = 0; i <= MaxWordLength; ++i) spelling[vocab][i] = word[i];
        return std::uint32_t(vocab++);
    }
};

}  // namespace ctattn::train
