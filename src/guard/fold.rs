//! Folding text that dresses one thing up as another, so detectors see what a reader (or a
//! model) sees: Cyrillic and Greek letters that look Latin (`аll`, `ΑΚΙΑ`), fullwidth
//! forms (`ｉｇｎｏｒｅ`), and invisible characters inside words (`ig\u{200B}nore`). The folded
//! text keeps a map back to the original byte offsets, so findings report (and redact)
//! the original span.

/// `text` folded, with `map[i]` = the original byte offset of folded byte `i` (and one more
/// entry for the end). `None` when folding changes nothing.
pub fn fold(text: &str) -> Option<(String, Vec<usize>)> {
    if text.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut changed = false;
    for (at, c) in text.char_indices() {
        match fold_char(c) {
            Folded::Keep => {
                let before = out.len();
                out.push(c);
                map.extend(std::iter::repeat_n(at, out.len() - before));
            }
            Folded::To(a) => {
                changed = true;
                out.push(a);
                map.push(at);
            }
            Folded::Remove => changed = true,
        }
    }
    map.push(text.len());
    changed.then_some((out, map))
}

enum Folded {
    Keep,
    To(char),
    Remove,
}

fn fold_char(c: char) -> Folded {
    let to = match c {
        // Invisible inside words: zero-width space/joiners, word joiner, BOM, soft hyphen.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {
            return Folded::Remove;
        }
        // Fullwidth ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        // Cyrillic lookalikes.
        'а' => 'a',
        'е' => 'e',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'у' => 'y',
        'х' => 'x',
        'і' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'һ' => 'h',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'І' => 'I',
        'Ј' => 'J',
        'Ѕ' => 'S',
        // Greek lookalikes.
        'ο' => 'o',
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        // Latin lookalikes outside ASCII.
        'ɡ' => 'g',
        'ı' => 'i',
        'ℓ' => 'l',
        _ => return Folded::Keep,
    };
    Folded::To(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_lookalikes_and_maps_offsets_back() {
        let t = "Іgnоre\u{200B} аll";
        let (f, map) = fold(t).expect("changed");
        assert_eq!(f, "Ignore all");
        // "all" starts at folded byte 7; in the original after the zero-width space.
        let start = f.find("all").expect("all");
        assert_eq!(&t[map[start]..map[f.len()]], "аll");
        assert_eq!(fold("plain ascii"), None);
        assert_eq!(fold("naïve café"), None, "real accents are not confusables");
        let (f, _) = fold("ｉｇｎｏｒｅ").expect("fullwidth");
        assert_eq!(f, "ignore");
    }
}
