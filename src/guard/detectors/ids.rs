//! Checks for numbers that identify a person or an account: US SSN ranges, Luhn (cards,
//! Canadian SIN), IBAN (ISO 7064 mod-97), UK NI number prefixes, passports, tax ids,
//! national ids of several countries (Spanish DNI/NIE letter, Brazilian CPF check digits,
//! Chinese resident id mod 11-2, Korean RRN, Aadhaar Verhoeff) and bank account numbers.

use std::ops::Range;

use super::digits;

/// US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000; not an obvious dummy.
pub(crate) fn valid_ssn(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let d = digits(&text[m.clone()]);
    if d.len() != 9 {
        return None;
    }
    // Part of a longer code (`482-19-3344-A`, `X-482-19-3344`) or labelled as a part,
    // order or document number: not an SSN.
    let glued_after = text[m.end..]
        .strip_prefix(['-', '/'])
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphanumeric()));
    let glued_before = text[..m.start].ends_with(['-', '/', '_']);
    if glued_after || glued_before || super::pii::other_id_label(text, m.start) {
        return None;
    }
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let ok = area != 0
        && area != 666
        && area < 900
        && (d[3], d[4]) != (0, 0)
        && d[5..] != [0, 0, 0, 0]
        && !d.iter().all(|&x| x == d[0]);
    ok.then_some(m)
}

/// The Luhn checksum.
pub fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// Test card numbers published in payment processors' documentation (Stripe, Braintree,
/// Adyen, PayPal and the card schemes' classic ones): examples, never someone's card.
#[rustfmt::skip]
const DOCUMENTED_TEST_CARDS: &[&str] = &[
    "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222",
    "5200828282828210", "5105105105105100", "378282246310005", "371449635398431",
    "6011111111111117", "6011000990139424", "3056930009020004", "36227206271667",
    "3566002020360505", "6200000000000005", "4000000000000002", "4000000000009995",
    "4000000000009987", "4000000000009979", "4000000000000069", "4000000000000127",
    "4000000000000119", "4000000000003220", "4000002500003155", "4000000000003063",
    "4000000000000077", "4000000000000341", "4000000000000101", "4111111111111111",
    "4012888888881881", "4222222222222", "5431111111111111", "378734493671000",
    "3530111333300000", "30569309025904", "38520000023237", "4444333322221111",
    "5555444433331111", "4005519200000004", "4009348888881881", "4012000033330026",
    "4012000077777777", "4217651111111119", "4500600000000061", "5424000000000015",
    "2222400070000005",
];

/// Words that call a number a card.
#[rustfmt::skip]
const CARD_WORDS: &[&str] = &[
    "card", "karte", "tarjeta", "carte", "carta", "cartão", "kaart", "karta", "visa",
    "mastercard", "pan ", "pan:",
];

/// The GS1 check digit of an EAN-13 (weights 1 and 3 from the left).
fn ean13(d: &[u8]) -> bool {
    let sum: u32 = d[..12]
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(d[12])
}

/// Payment card: 13–19 digits, a known issuer prefix, Luhn-valid, consistent separators.
pub(crate) fn valid_card(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let d = digits(s);
    if !(13..=19).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return None;
    }
    let seps: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_digit()).collect();
    if seps.windows(2).any(|w| w[0] != w[1]) {
        return None;
    }
    // The account digits of an IBAN (`DE89 3704 0044 0532 0130 00`) are not a card.
    let before = &text.as_bytes()[..m.start];
    let n = before.len();
    let iban_head = |k: usize| {
        n >= k + 4
            && before[n - k - 4..n - k - 2]
                .iter()
                .all(u8::is_ascii_uppercase)
            && before[n - k - 2..n - k].iter().all(u8::is_ascii_digit)
    };
    if (n >= 5 && before[n - 1] == b' ' && iban_head(1)) || iban_head(0) {
        return None;
    }
    // Card numbers the payment processors publish for testing are nobody's card.
    let published =
        |c: &&str| c.len() == d.len() && c.bytes().zip(&d).all(|(a, &b)| a.wrapping_sub(b'0') == b);
    if DOCUMENTED_TEST_CARDS.iter().any(published) {
        return None;
    }
    // A 13-digit product code (EAN-13 / GTIN-13, its own check digit valid) is not a card
    // unless the text calls it one: 13-digit cards are long out of issue, barcodes fill
    // every shop export.
    if d.len() == 13 && ean13(&d) && !super::context_has(text, m.start, m.end, 60, 20, CARD_WORDS) {
        return None;
    }
    let prefix2 = d[0] * 10 + d[1];
    let issuer = d[0] == 4
        || (51..=55).contains(&prefix2)
        || (22..=27).contains(&prefix2)
        || matches!(prefix2, 34 | 37 | 36 | 30 | 38 | 35)
        || d[0] == 6;
    (issuer && luhn(&d)).then_some(m)
}
#[rustfmt::skip]
pub(crate) const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AE", 23), ("AT", 20), ("BE", 16), ("BG", 22), ("BH", 22), ("BR", 29), ("CH", 21),
    ("CY", 28), ("CZ", 24), ("DE", 22), ("DK", 18), ("EE", 20), ("ES", 24), ("FI", 18), ("FR", 27),
    ("GB", 22), ("GI", 23), ("GR", 27), ("HR", 21), ("HU", 28), ("IE", 22), ("IL", 23), ("IS", 26),
    ("IT", 27), ("KW", 30), ("KZ", 20), ("LB", 28), ("LI", 21), ("LT", 20), ("LU", 20), ("LV", 21),
    ("MC", 27), ("MT", 31), ("MU", 30), ("NL", 18), ("NO", 15), ("PK", 24), ("PL", 28), ("PT", 25),
    ("QA", 29), ("RO", 24), ("RS", 22), ("SA", 24), ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27),
    ("TN", 24), ("TR", 26), ("UA", 29),
];

/// ISO 7064 mod-97 remainder of a string of digits and letters (letters count 10–35).
pub(crate) fn mod97(s: impl Iterator<Item = u8>) -> Option<u32> {
    let mut rem: u32 = 0;
    for b in s {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return None,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    Some(rem)
}

/// IBAN: known country length and the ISO 7064 mod-97 check.
pub(crate) fn valid_iban(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s: String = text[m.clone()].chars().filter(|c| *c != ' ').collect();
    let &(_, len) = IBAN_LENGTHS.iter().find(|(cc, _)| s.starts_with(cc))?;
    if s.len() != len {
        return None;
    }
    (mod97(s[4..].bytes().chain(s[..4].bytes()))? == 1).then_some(m)
}

/// UK National Insurance number: prefixes that are never issued are not one.
pub(crate) fn valid_nino(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = text[m.clone()].to_ascii_uppercase();
    let prefix = s.get(..2)?;
    (!matches!(prefix, "BG" | "GB" | "NK" | "KN" | "TN" | "NT" | "ZZ")).then_some(m)
}

/// A passport number near the word: 6–10 characters with at least five digits.
pub(crate) fn passport(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let d = s.bytes().filter(u8::is_ascii_digit).count();
    // Mixed letters and digits in capitals (Dutch `NX7RK3PJ1`), not a word.
    let mixed = s.len() == 9
        && d >= 2
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ((d >= 5 || mixed) && s.len() <= 10 && !super::secrets::is_placeholder(s)).then_some(m)
}

/// A tax id after its name.
pub(crate) fn tax_id(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let d = digits(s);
    let dummy = d.iter().all(|&x| x == d.first().copied().unwrap_or(0));
    (!dummy && !super::secrets::is_placeholder(s)).then_some(m)
}

/// A national id by its own shape and check: Spanish DNI/NIE (mod-23 letter), Italian
/// codice fiscale, Brazilian CPF (two check digits), Chinese resident id (ISO 7064 mod
/// 11-2), Mexican CURP, Korean resident registration number.
pub(crate) fn national_id(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = text[m.clone()].replace('-', "");
    let b = s.as_bytes();
    if s.contains('.') {
        return cpf(&digits(&s)).then_some(m);
    }
    let ok = match b.len() {
        // Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter).
        9 if b[8].is_ascii_uppercase() => {
            let lead = match b[0] {
                b'X' => Some(0),
                b'Y' => Some(1),
                b'Z' => Some(2),
                c if c.is_ascii_digit() => None,
                _ => return None,
            };
            let num: String = match lead {
                Some(l) => format!("{l}{}", &s[1..8]),
                None => s[..8].to_string(),
            };
            let n: u32 = num.parse().ok()?;
            b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize] == b[8]
        }
        16 => true, // codice fiscale: the shape itself is specific
        18 if b[..17].iter().all(u8::is_ascii_digit) => {
            const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let sum: u32 = b[..17]
                .iter()
                .zip(W)
                .map(|(c, w)| u32::from(c - b'0') * w)
                .sum();
            b"10X98765432"[(sum % 11) as usize] == b[17].to_ascii_uppercase()
        }
        18 => true, // CURP
        13 if b.iter().all(u8::is_ascii_digit) => {
            // Korean RRN: weights 2..9,2..5, check = (11 - sum % 11) % 10.
            let d = digits(&s);
            let w = [2u32, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
            let sum: u32 = d[..12].iter().zip(w).map(|(x, w)| u32::from(*x) * w).sum();
            (11 - sum % 11) % 10 == u32::from(d[12])
        }
        _ => false,
    };
    ok.then_some(m)
}

/// Brazilian CPF check digits.
pub(crate) fn cpf(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = (0..n)
            .map(|i| u32::from(d[i]) * (n as u32 + 1 - i as u32))
            .sum();
        let r = (sum * 10) % 11;
        (if r == 10 { 0 } else { r }) as u8
    };
    check(9) == d[9] && check(10) == d[10]
}

/// A national id, tax or licence number after words that name it: long enough, not a
/// dummy, and (for Aadhaar, SIN and personnummer) passing its checksum.
pub(crate) fn national_id_context(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let d = digits(s);
    if d.len() < 6 || d.iter().all(|&x| x == d[0]) || super::secrets::is_placeholder(s) {
        return None;
    }
    let lo = super::super::engine::floor_char(text, m.start.saturating_sub(60));
    let near = text[lo..m.start].to_lowercase();
    if near.contains("aadha") || near.contains("uidai") {
        return (d.len() == 12 && verhoeff(&d)).then_some(m);
    }
    if near.contains("tfn") || near.contains("tax file") {
        // Australian tax file number: weights 1,4,3,7,5,8,6,9,10, sum divisible by 11.
        const W: [u32; 9] = [1, 4, 3, 7, 5, 8, 6, 9, 10];
        let sum: u32 = d.iter().zip(W).map(|(x, w)| u32::from(*x) * w).sum();
        return (d.len() == 9 && sum % 11 == 0).then_some(m);
    }
    if near.contains("medicare") {
        // Australian Medicare card: first digit 2–6, check digit over weights 1,3,7,9.
        const W: [u32; 8] = [1, 3, 7, 9, 1, 3, 7, 9];
        let sum: u32 = d.iter().zip(W).map(|(x, w)| u32::from(*x) * w).sum();
        let ok =
            (10..=11).contains(&d.len()) && (2..=6).contains(&d[0]) && sum % 10 == u32::from(d[8]);
        return ok.then_some(m);
    }
    if near.contains("social insurance") || near.contains("sin") && d.len() == 9 {
        return (d.len() == 9 && luhn(&d)).then_some(m);
    }
    Some(m)
}

/// The Verhoeff checksum (Aadhaar).
pub(crate) fn verhoeff(d: &[u8]) -> bool {
    const MUL: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const PERM: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, &x) in d.iter().rev().enumerate() {
        c = MUL[c as usize][PERM[i % 8][x as usize] as usize];
    }
    c == 0
}

/// A bank account or routing number after its name: 6–18 digits, not a dummy or a count.
pub(crate) fn bank_account(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let d = digits(s);
    let counting = d.windows(2).all(|w| w[1] == (w[0] + 1) % 10);
    let ok = (6..=18).contains(&d.len())
        && !d.iter().all(|&x| x == d[0])
        && !counting
        && !super::secrets::is_placeholder(s);
    ok.then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(f: super::super::Validator, s: &str) -> bool {
        f(s, 0..s.len()).is_some()
    }

    #[test]
    fn documented_test_cards_and_product_codes_are_not_cards() {
        // Luhn-valid and issuer-prefixed, but published as test numbers.
        assert!(!ok(valid_card, "4000 0566 5566 5556"));
        assert!(!ok(valid_card, "5555 5555 5555 4444"));
        // A Luhn-valid card number that is nobody's test card stays a card.
        assert!(ok(valid_card, "4539 1488 0343 6467"));
        // 4060050036813 is a valid EAN-13 and passes Luhn: a product code in a shop export.
        let row = "ean;artikel;menge\n4060050036813;Mineralwasser 6x1,5l;30";
        let at = row.find("406").expect("in the row");
        assert!(ean13(&digits("4060050036813")) && luhn(&digits("4060050036813")));
        assert!(valid_card(row, at..at + 13).is_none());
        // Called a card, it is one.
        let card = "Kreditkarte: 4060050036813";
        assert!(valid_card(card, 13..26).is_some());
    }

    #[test]
    fn checksums() {
        assert!(luhn(&digits("4111111111111111")));
        assert!(!luhn(&digits("4111111111111112")));
        assert!(ok(valid_iban, "DE89 3704 0044 0532 0130 00"));
        assert!(!ok(valid_iban, "DE89 3704 0044 0532 0130 01"));
        assert!(ok(valid_iban, "GB82WEST12345698765432"));
        for (ssn, good) in [
            ("123-45-6789", true),
            ("000-12-3456", false),
            ("666-12-3456", false),
            ("912-12-3456", false),
            ("123-00-4567", false),
        ] {
            assert_eq!(ok(valid_ssn, ssn), good, "{ssn}");
        }
        for (ip, good) in [
            ("10.0.0.1", true),
            ("2001:db8::1", true),
            ("fe80::1:2", true),
            ("12:30:45", false),
            ("::", false),
            ("1.2.3", false),
        ] {
            assert_eq!(ok(super::super::pii::valid_ip, ip), good, "{ip}");
        }
        assert!(ok(national_id, "12345678Z"), "DNI");
        assert!(!ok(national_id, "12345678A"), "DNI letter");
        assert!(ok(national_id, "111.444.777-35"), "CPF");
        assert!(!ok(national_id, "111.444.777-36"), "CPF check");
        assert!(ok(national_id, "11010519491231002X"), "CN id");
        assert!(verhoeff(&digits("234123412346")));
    }
}
