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
    // Lookalike letters are folded only in words that also have ASCII letters (`Іgnоrе`,
    // `АKIA…`): a word written wholly in Cyrillic or Greek is that language, not a disguise,
    // and folding it would only make noise to scan. Fullwidth letters and digits and
    // invisible characters are folded everywhere. Words are split at ASCII non-alphanumeric
    // bytes only (cheap, and enough: a disguise sits inside a word).
    let folds = |latin: bool, c: char| match fold_char(c) {
        Folded::Keep => false,
        Folded::Remove => true,
        Folded::To(_) => latin || is_fullwidth(c),
    };
    let latin = |w: &str| w.bytes().any(|b| b.is_ascii_alphabetic());
    let words = || {
        text.split(|c: char| c.is_ascii() && !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_ascii())
            .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
    };
    // Outside words with ASCII letters only fullwidth forms (lead byte 0xEF) and invisible
    // characters (0xE2, 0xC2, 0xEF) fold: a byte search rules most words out.
    let may_fold =
        |w: &str, l: bool| l || memchr::memchr3(0xEF, 0xE2, 0xC2, w.as_bytes()).is_some();
    if !words().any(|(_, w)| {
        let l = latin(w);
        may_fold(w, l) && w.chars().any(|c| folds(l, c))
    }) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut copied = 0;
    for (start, w) in words() {
        let l = latin(w);
        out.push_str(&text[copied..start]);
        map.extend(copied..start);
        for (k, c) in w.char_indices() {
            let at = start + k;
            if folds(l, c) {
                if let Folded::To(a) = fold_char(c) {
                    out.push(a);
                    map.push(at);
                }
            } else {
                let before = out.len();
                out.push(c);
                map.extend(std::iter::repeat_n(at, out.len() - before));
            }
        }
        copied = start + w.len();
    }
    out.push_str(&text[copied..]);
    map.extend(copied..text.len());
    map.push(text.len());
    Some((out, map))
}

/// Fullwidth letters and digits (fullwidth punctuation is ordinary CJK typography).
fn is_fullwidth(c: char) -> bool {
    matches!(c, '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
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
        assert_eq!(
            fold("Отчёт за квартал"),
            None,
            "a Cyrillic word is not a disguise"
        );
        let (f, _) = fold("ｉｇｎｏｒｅ").expect("fullwidth");
        assert_eq!(f, "ignore");
    }
}
