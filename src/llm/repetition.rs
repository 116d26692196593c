//! Spotting an answer that has started going round in circles. Small models, sampled greedily
//! or nearly so, fall into repeating a sentence, or into counting up a line ("[3] faq.pdf,
//! page 12", "[4] faq.pdf, page 13", ...), until the token limit; generation stops at the
//! first repeat, and the repeat is cut.

/// Shorter units (in normalised characters) are never taken for a loop: "Yes." twice is not one.
const MIN_UNIT_CHARS: usize = 12;
/// Units that differ only in their numbers: this many are a list ("Debian 10", "Debian 11",
/// "Debian 12"), one more is a count-up.
const MAX_NUMBERED_VARIANTS: usize = 3;

/// Where the repetition begins in `text` (a byte offset to cut at), if its last complete unit,
/// a line or a sentence, repeats an earlier one: the same words (case, spacing, list bullets
/// and citation markers aside), or the same words with other numbers for the fourth time.
pub fn repeat_start(text: &str) -> Option<usize> {
    let units = complete_units(text);
    let (&(start, end), earlier) = units.split_last()?;
    let last = normalise(&text[start..end]);
    if last.chars().count() < MIN_UNIT_CHARS {
        return None;
    }
    let last_shape = numbers_blanked(&last);
    let mut n_variants = 1;
    for &(s, e) in earlier {
        let unit = normalise(&text[s..e]);
        if unit == last {
            return Some(start);
        }
        if numbers_blanked(&unit) == last_shape {
            n_variants += 1;
        }
    }
    (n_variants > MAX_NUMBERED_VARIANTS).then_some(start)
}

/// Byte ranges of the lines and sentences that are complete: a line ends at its newline, a
/// sentence at `.`, `!` or `?` followed by white space. What follows the last end is still
/// being written.
fn complete_units(text: &str) -> Vec<(usize, usize)> {
    let mut units = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let (end, next_start) = match c {
            '\n' => (i, i + 1),
            '.' | '!' | '?' if chars.peek().is_some_and(|&(_, next)| next.is_whitespace()) => {
                (i + 1, i + 1)
            }
            _ => continue,
        };
        if !text[start..end].trim().is_empty() {
            units.push((start, end));
        }
        start = next_start;
    }
    units
}

/// Lower case, single spaces, no leading bullet, no citation markers (`[2]`, `[1, 3]`).
fn normalise(unit: &str) -> String {
    let unit = unit.trim_start_matches(|c: char| c.is_whitespace() || "•-*·".contains(c));
    let mut out = String::with_capacity(unit.len());
    let mut rest = unit;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(close) = rest.find(']')
            && (2..=41).contains(&close)
            && rest[1..close]
                .chars()
                .all(|c| c.is_ascii_digit() || ", -–".contains(c))
        {
            rest = &rest[close + 1..];
            continue;
        }
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if ".,;:!?".contains(c) && out.ends_with(' ') {
            // Where a citation marker was removed: "manager [4]." reads as "manager.".
            out.pop();
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
        rest = &rest[c.len_utf8()..];
    }
    out.trim_end().to_owned()
}

/// Each run of digits as one `#`.
fn numbers_blanked(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    for c in unit.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::repeat_start;

    #[test]
    fn a_repeated_sentence_is_cut_where_it_starts_again() {
        let once = "The package manager, dpkg, is a Debian-based package manager.";
        let text = format!("{once}\n{once}\n");
        let cut = repeat_start(&text).expect("a repeat");
        assert_eq!(text[..cut].trim_end(), once);
        // The same sentence with another citation, case or spacing is still the same.
        let text = format!(
            "{once} [1] Then more. The  PACKAGE manager, dpkg, is a Debian-based package manager [4]. "
        );
        assert!(repeat_start(&text).is_some());
    }

    #[test]
    fn a_count_up_is_cut_after_three_lines() {
        let lines: Vec<String> = (2..9)
            .map(|n| format!("[{n}] long_debian-faq.en.pdf, page {}\n", n + 9))
            .collect();
        let text = lines.concat();
        let cut = repeat_start(&text[..lines[..4].concat().len()]).expect("a count-up");
        assert_eq!(&text[..cut], lines[..3].concat());
        assert_eq!(repeat_start(&lines[..3].concat()), None, "three are a list");
    }

    #[test]
    fn an_answer_without_repeats_is_left_alone() {
        let text = "Debian is pronounced Deb-ee-in [1]. The name comes from Debra and Ian [1].\n\
                    • stable [2]\n• testing [2]\n• unstable [2]\nYes. Yes. Yes. Yes. ";
        assert_eq!(repeat_start(text), None);
        assert_eq!(repeat_start(""), None);
        // A sentence still being written is not compared yet.
        assert_eq!(repeat_start("The stable release. The stable release"), None);
    }
}
