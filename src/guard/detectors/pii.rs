//! Personal data: e-mail addresses (also written out: `jane dot doe at gmail dot com`),
//! phone numbers in international and national formats (validated against libphonenumber's
//! metadata through the `phonenumber` crate), government ids with their checks (US SSN with
//! or without separators, UK NI number, passports, tax ids, national ids of several
//! countries), payment cards (Luhn), IBANs (mod-97), bank account numbers, dates of birth
//! and postal addresses (with context words). Machine identities (`git@github.com`,
//! `deploy@host`), role mailboxes (`noreply@`, `support@`) and IP addresses are not
//! personal data (IP addresses are reported by the `network` family).

use std::ops::Range;

use super::ids::{
    bank_account, national_id, national_id_context, passport, tax_id, valid_card, valid_iban,
    valid_nino, valid_ssn,
};
use super::pii_context::{obfuscated_email, personal_email};
use super::{Spec, context_has, digits, spec, spec_reach};
use crate::guard::Severity::{High, Low, Medium};

const P: &str = "pii";

/// The personal-data rules (and `network`'s `ip_address`).
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec(P, "email", Medium,
        &["@"],
        r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?-u:\b)",
        Some(personal_email),
    ),
    spec(P, "email", Medium,
        &[
        "[at]", "(at)", "{at}", "<at>", "[ at ]", "( at )", " dot ", "[dot]", "(dot)",
        " arroba ",
        ],
        r"(?i)(?-u:\b)[a-z0-9][a-z0-9_-]{0,40}(?:\s*(?:\.|\[dot\]|\(dot\)|\{dot\}|\s+dot\s+)\s*[a-z0-9_-]{1,40}){0,3}\s*(?:\[\s*at\s*\]|\(\s*at\s*\)|\{\s*at\s*\}|<at>|\s+at\s+|\s+arroba\s+)\s*[a-z0-9-]{1,63}(?:\s*(?:\.|\[dot\]|\(dot\)|\{dot\}|\s+dot\s+|\s+punto\s+)\s*[a-z0-9-]{1,63}){0,2}\s*(?:\.|\[dot\]|\(dot\)|\{dot\}|\s+dot\s+|\s+punto\s+)\s*(?:com|org|net|io|de|co|uk|fr|es|it|nl|edu|gov|me|info|biz|us|ca|au|br|jp|cn|ru|in|ch|at|be|se|no|dk|fi|pl|pt|mx|ar|dev|app|ai|xyz|eu|ie|nz|za|kr|tw|hk|sg)(?-u:\b)",
        Some(obfuscated_email),
    ),
    spec(P, "us_ssn", High,
        &[],
        r"(?:^|[^\w-])(?P<v>\d{3}-\d{2}-\d{4})(?:$|[^\w-])",
        Some(valid_ssn),
    ),
    spec(P, "us_ssn", High,
        &[
        "ssn", "social security", "ss#", "soc sec", "soc. sec",
        ],
        r"(?i)(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?|ss#|soc\.?\s*sec\.?)[^\d\n]{0,24}(?P<v>\d{3}[ -]?\d{2}[ -]?\d{4})(?-u:\b)",
        Some(valid_ssn),
    ),
    spec(P, "payment_card", High,
        &[],
        r"(?:^|[^\w.-])(?P<v>\d(?:[ -]?\d){12,18})(?:$|[^\w.-])",
        Some(valid_card),
    ),
    spec(P, "iban", High,
        &[],
        r"(?-u:\b)(?P<v>[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?-u:\b)",
        Some(valid_iban),
    ),
    spec(P, "uk_nino", High,
        &[],
        r"(?-u:\b)(?P<v>[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] \d{2} \d{2} \d{2} [A-D]|QQ \d{2} \d{2} \d{2} [A-D])(?-u:\b)",
        Some(valid_nino),
    ),
    spec(P, "uk_nino", High,
        &[
        "national insurance", "nino", "ni number", "ni no", "ni:", "n.i.",
        ],
        r"(?i)(?:national\s+insurance|nino|ni\s+(?:number|no\.?)|ni:|n\.i\.)[^\n]{0,30}?(?-u:\b)(?P<v>(?-i:[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?(?-i:[A-D]))(?-u:\b)",
        Some(valid_nino),
    ),
    spec(P, "passport_number", High,
        &[
        "passport", "reisepass", "pasaporte", "passeport", "passaporto", "passaporte",
        "паспорт", "护照", "パスポート", "여권",
        ],
        r"(?i)(?:passport|reisepass|pasaporte|passeport|passaporto|passaporte|паспорт|护照|パスポート|여권)[^\n]{0,40}?(?-u:\b)(?P<v>[A-Z]{0,2}\d{6,9}[A-Z]?|[A-Z0-9]{9})(?-u:\b)",
        Some(passport),
    ),
    spec(P, "tax_id", High,
        &[
        "^ein", "^tin", "tax id", "taxpayer", "^itin", "employer identification", "steuer", "^pan",
        "^nif", "^cpf", "codice fiscale", "tax identification",
        ],
        r"(?i)(?:(?-u:\b)(?:EIN|TIN|ITIN|tax\s*id(?:entification)?(?:\s+number)?|taxpayer\s+id\w*|employer\s+identification\s+number)(?-u:\b)[^\d\n]{0,20}(?P<v>\d{2}-\d{7}|9\d{2}-?[5-9]\d-?\d{4}|\d{3}-\d{2}-\d{4})|steuer[-\s]?(?:id|identifikationsnummer|nummer)[^\d\n]{0,20}(?P<v2>\d{2} ?\d{3} ?\d{3} ?\d{3}|\d{2,3}/\d{3}/\d{4,5})|(?-u:\b)(?:PAN|NIF|CPF)(?-u:\b)[^\n]{0,20}?(?P<v3>(?-i:[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z])|\d{8}(?-i:[A-Z])|\d{3}\.?\d{3}\.?\d{3}-?\d{2}))",
        Some(tax_id),
    ),
    spec(P, "national_id", High,
        &[],
        r"(?-u:\b)(?P<v>[XYZ]?\d{7,8}-?[A-Z]|[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]|\d{3}\.\d{3}\.\d{3}-\d{2}|[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]|[A-Z][AEIOUX][A-Z]{2}\d{6}[HM][A-Z]{5}[0-9A-Z]\d|\d{6}-[1-4]\d{6})(?-u:\b)",
        Some(national_id),
    ),
    spec(P, "national_id", High,
        &[
        "aadhaar", "aadhar", "uidai", "^tfn", "tax file number", "medicare", "social insurance", "^sin", "sécurité sociale",
        "securite sociale", "^nir", "insee", "carte vitale", "^bsn", "burgerservicenummer",
        "pesel", "personnummer", "my number", "マイナンバー", "個人番号", "^dni", "^nie", "national id",
        "id number", "id no", "identity number", "identity card", "id card", "driver's licen",
        "drivers licen", "driver licen", "driving licen", "licence number", "license number",
        "licence no", "license no", "licence #", "license #", "dl#", "personalausweis", "ausweis",
        "sozialversicherungsnummer", "rentenversicherungsnummer", "sv-nummer", "versicherungsnummer",
        ],
        r"(?i)(?:aadha?ar|uidai|(?-u:\b)tfn(?-u:\b)|tax\s+file\s+number|medicare(?:\s+card)?|social\s+insurance|(?-u:\b)sin(?-u:\b)|s[ée]curit[ée]\s+sociale|(?-u:\b)nir(?-u:\b)|insee|carte\s+vitale|(?-u:\b)bsn(?-u:\b)|burgerservicenummer|pesel|personnummer|my\s+number|マイナンバー|個人番号|(?-u:\b)dni(?-u:\b)|(?-u:\b)nie(?-u:\b)|national\s+id(?:entity)?|id(?:entity)?\s+(?:number|no\.?|card)|driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e\s+(?:number|no\.?|#)|dl#|personalausweis|ausweis|sozialversicherungsnummer|rentenversicherungsnummer|sv-nummer|versicherungsnummer)[^\n]{0,30}?(?-u:\b)(?P<v>\d[\d -]{6,20}\d|[A-Z0-9][A-Z0-9-]{5,16}\d|[XYZ]?\d{7,8}-?[A-Z])(?-u:\b)",
        Some(national_id_context),
    ),
    spec(P, "bank_account", High,
        &[
        "account number", "account no", "account #", "account num", "acct", "a/c", "kontonummer",
        "konto", "cuenta", "compte", "routing", "sort code", "^bsb", "^aba",
        ],
        r"(?i)(?:(?:bank\s+)?account\s*(?:number|no\.?|#|num)|acct\.?\s*(?:no\.?|#|number)?|a/c(?:\s+no\.?)?|kontonummer|konto(?:nr\.?)?|n[úu]mero\s+de\s+cuenta|cuenta|num[ée]ro\s+de\s+compte|routing\s*(?:number|no\.?|#)?|(?-u:\b)aba(?-u:\b)|sort\s*code|(?-u:\b)bsb(?-u:\b))[^\d\n]{0,15}(?P<v>\d[\d -]{4,22}\d)(?-u:\b)",
        Some(bank_account),
    ),
    spec(P, "date_of_birth", High,
        &[
        "^dob", "d.o.b", "date of birth", "birth date", "birthdate", "birthday", "^born",
        "geburtsdatum", "geboren", "nacimiento", "nacido", "nacida", "naissance", "né le",
        "née le", "nascita", "nato il", "nata il", "nascimento", "nascido", "nascida", "рождения",
        "出生日期", "生年月日", "생년월일",
        ],
        r#"(?i)(?:(?-u:\b)dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthdate|birthday|born(?:\s+on)?|geburtsdatum|geboren(?:\s+am)?|fecha\s+de\s+nacimiento|nacid[oa](?:\s+el)?|date\s+de\s+naissance|n[ée]e?\s+le|data\s+di\s+nascita|nat[oa]\s+il|data\s+de\s+nascimento|nascid[oa]\s+em|дата\s+рождения|出生日期|生年月日|생년월일)(?:\s+(?:is|was|ist|war|es|era|est|était|é|è))?["']?\s*[:：=\-–]?\s*["']?(?P<v>\d{1,4}[./ -]\d{1,2}[./ -]\d{2,4}|\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:of\s+)?\p{L}{3,10}\.?,?\s+\d{4}|\p{L}{3,10}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日?|\d{4}\s*년\s*\d{1,2}\s*월\s*\d{1,2}\s*일?)"#,
        Some(birth_date),
    ),
    spec_reach(P, "postal_address", Medium,
        &[
        "=Street", "=St.", "=St,", "=St ", "=Avenue", "=Ave", "=Road", "=Rd", "=Boulevard",
        "=Blvd", "=Lane", "=Ln", "=Drive", "=Dr", "=Court", "=Ct", "=Way", "=Place", "=Pl",
        "=Terrace", "=Close", "=Crescent", "=Parkway", "=Pkwy", "=Highway", "=Hwy", "=Square",
        "=Sq",
        ],
        r"(?-u:\b)(?P<v>\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close|Crescent|Parkway|Pkwy|Highway|Hwy|Square|Sq)(?-u:\b)\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)(?-u:\b))?(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[A-Za-z0-9-]+)?(?:(?:,|\n)\s*[A-Z][A-Za-z]+(?:[ \t]+[A-Z][A-Za-z]+){0,3}){0,2}(?:,?\s+(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?|[A-Z]\d[A-Z]\s?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|\d{5}))?)",
        Some(address),
        160,
    ),
    spec(P, "postal_address", Medium,
        &[
        "~(?:strasse|str\\.|weg|allee|platz|gasse|ring|damm|straat|laan|gracht|kade|plein|singel|dijk)\\s+\\d", "~straße\\s+\\d",
        "~\\d\\s*,?\\s+(?:rue|avenue|boulevard|bd|place|chemin|impasse)\\s", "~\\d\\s*,?\\s+allée\\s",
        "calle ", "c/ ", "rue ", "chaussée ", "chemin ", "route de ",
        "avenida ", "avda", "paseo ", "plaza ", "via ", "viale ", "piazza ", "corso ", "rua ",
        "av. ", "ulica", "ul. ",
        ],
        r"(?P<v>\p{Lu}[\p{Ll}ß]+(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|straat|laan|gracht|kade|plein|singel|dijk)\s+\d{1,4}\s?[a-z]?,?\s+(?:D-)?\d{4,5}(?:\s?[A-Z]{2})?\s+\p{Lu}\p{Ll}+|\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse)\s+[^\n,]{2,40},?\s+\d{5}\s+\p{Lu}[\p{Ll}-]+|(?:Rue|Avenue|Chaussée|Boulevard|Chemin|Place|Route)\s+[^\n,\d]{2,40}\s+\d{1,4}[a-zA-Z]?,?\s+(?:B-|CH-|L-)?\d{4}\s+\p{Lu}[\p{Ll}-]+|(?:Calle|C/|Avenida|Avda\.?|Paseo|Plaza|Via|Viale|Piazza|Corso|Rua|Av\.|ul\.|ulica)\s+[^\n,]{2,40},?\s*(?:n[º°o.]\s*)?\d{1,5}[^\n]{0,30}?\d{5}(?:-\d{3})?(?:\s+\p{Lu}\p{Ll}+)?)",
        Some(address),
    ),
    spec(P, "phone", Medium,
        &[],
        r"(?:^|[^\w+.-])(?P<v>\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]?\d{1,5}){1,5}|\(\d{2,5}\)[ .-]?\d{3,5}[ .-]?\d{3,5}|(?:1[ .-])?\d{3}[ .-]\d{3}[ .-]\d{4}|[6-9]\d{2}[ .]\d{2}[ .]\d{2}[ .]\d{2}|[5-9]\d{2}[ .-]\d{3}[ .-]\d{3}|0\d{1,4}[ /.-]?\d{2,4}(?:[ .-]?\d{2,4}){1,3})(?:$|[^\w.-]|\.(?:\s|$))",
        Some(valid_phone),
    ),
    spec(P, "phone", Medium,
        &[
        "phone", "^tel", "mobile", "contact", "joindre", "reach me", "reach her", "reach him", "^ring ", "anrufen", "erreichbar", "llámame", "llamar", "^mob", "^cell", "call me", "call us", "call him", "call her",
        "call them", "whatsapp", "^fax", "^sms", "text me", "handy", "telefon", "teléfono",
        "telefono", "celular", "móvil", "movil", "portable", "téléphone", "telephone", "cellulare",
        "mi número", "mi numero", "mio numero", "mon numéro", "mon numero", "meine nummer",
        "my number", "mój numer", "moj numer", "numer telefonu", "nr tel",
        "telefone", "телефон", "电话", "手机", "電話", "携帯", "전화", "휴대폰",
        ],
        r"(?i)(?:(?-u:\b)(?:phone|tel|mobile|mob|cell|contact|joindre|reach\s+(?:me|her|him)|ring|anrufen|erreichbar|ll[áa]mame|llamar|call\s+(?:me|us|him|her|them)(?:\s+(?:at|on))?|whatsapp|fax|sms|text\s+me|handy|telefon|tel[ée]fono|celular|m[óo]vil|portable|t[ée]l[ée]phone|cellulare|telefone|mi\s+n[úu]mero|mio\s+numero|mon\s+num[ée]ro|meine\s+nummer|my\s+number|m[óo]j\s+numer|numer\s+telefonu|nr\s+tel)(?-u:\b)|телефон|电话|手机|電話|携帯|전화|휴대폰)[^\d\n+]{0,24}(?P<v>\+?\d[\d .()-]{6,18}\d)(?-u:\b)",
        Some(context_phone),
    ),
    spec(P, "postal_address", Medium,
        &["都", "道", "府", "県"],
        r"(?:東京都|北海道|(?:大阪|京都)府|\p{Han}{2,3}県)\p{Han}{1,6}?(?:市|区|町|村|郡)[\p{Han}\p{Hiragana}\p{Katakana}ー]{0,10}?(?:\d{1,4}|[０-９]{1,4})(?:丁目|番地?|号|-|－|‐)(?:\d{1,4}|[０-９]{1,4})(?:(?:番地?|号|-|－|‐)(?:\d{1,4}|[０-９]{1,4})号?)?",
        Some(japanese_address),
    ),
    spec("network", "ip_address", Low,
        &[],
        r"(?:^|[^\w.:])(?P<v>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?:$|[^\w.:])",
        Some(valid_ip),
    ),
];

/// A date of birth: the date has a plausible year (1900–2029).
fn birth_date(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let years = s
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok())
        .any(|y| (1900..2030).contains(&y) || (s.len() <= 10 && y < 100));
    years.then_some(m)
}

/// A street address: needs a city/postcode part or words saying it is an address.
fn address(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let postcode = s.contains(',') && s.bytes().filter(u8::is_ascii_digit).count() >= 5
        || s.split_whitespace().count() >= 6 && s.contains(',')
        || s.lines().count() >= 2;
    let said = context_has(
        text,
        m.start,
        m.end,
        80,
        0,
        &[
            "address",
            "street",
            "recipient",
            "send the",
            "mail to",
            "lives at",
            "live at",
            "living at",
            "resides",
            "residence",
            "home",
            "ship to",
            "deliver to",
            "delivery",
            "mailing",
            "shipping",
            "moved to",
            "wohnt",
            "adresse",
            "anschrift",
            "dirección",
            "direccion",
            "domicilio",
            "indirizzo",
            "endereço",
            "endereco",
            "residente",
            "vive en",
            "habite",
        ],
    );
    // The address of a landmark, a business or an office is public, not someone's home.
    let public = context_has(
        text,
        m.start,
        m.end,
        100,
        60,
        &[
            "visit us",
            "our office",
            "our store",
            "our shop",
            "headquarters",
            " hq",
            "museum",
            "hotel",
            "restaurant",
            "university",
            "gmbh",
            " inc",
            " ltd",
            " llc",
            "white house",
            "located at",
            "opening hours",
            "open daily",
            "campus",
            "stadium",
            "embassy",
            "city hall",
            "town hall",
            "station",
            "airport",
            "cathedral",
        ],
    );
    ((postcode || said) && !public).then_some(m)
}

/// A Japanese address (prefecture, city or ward, block numbers), not an organisation's
/// (a company, an office, a station, a public building named just before it).
fn japanese_address(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let lo = crate::guard::engine::floor_char(text, m.start.saturating_sub(60));
    let near = &text[lo..crate::guard::engine::ceil_char(text, (m.end + 30).min(text.len()))];
    let public = [
        "株式会社",
        "本社",
        "支社",
        "事務所",
        "庁",
        "役所",
        "駅",
        "ホテル",
        "大学",
        "病院",
        "店",
    ]
    .iter()
    .any(|w| near.contains(w));
    (!public || near.contains("住所") && near.contains("様")).then_some(m)
}

/// Phone: 8 to 15 digits, not one repeated digit, not a date or a version; valid for its
/// country in libphonenumber's metadata (international form), or shaped like a national
/// number of a country whose metadata accepts it.
fn valid_phone(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let d = digits(s);
    if !(8..=15).contains(&d.len()) || d.iter().all(|&x| x == d[0]) || looks_like_date(s) {
        return None;
    }
    // Round amounts (`600 000 000`) are not numbers anyone dials.
    if d.ends_with(&[0, 0, 0, 0, 0]) {
        return None;
    }
    let before = &text[..m.start];
    if before.ends_with('#') || before.ends_with("v") || before.ends_with("ID ") {
        return None;
    }
    if organisation_line(text, &m) || other_id_label(text, m.start) {
        return None;
    }
    phone_valid(s).then_some(m)
}

/// Labels of numbers that are shaped like phone numbers or national ids but name an order,
/// a part, a company or a document (`Order no.: 312-8847-2931`, `Part no. 482-19-3344`,
/// `registered in England no. 08812231`).
#[rustfmt::skip]
const OTHER_ID_LABELS: &[&str] = &[
    "order", "customer no", "customer number", "customer id", "client no", "account no",
    "invoice", "parcel", "tracking", "shipment", "consignment", "waybill", "registered in",
    "company no", "company number", "registration no", "registration number", "reg. no",
    "reg no", "hrb", "hra", "vat", "ust-id", "part no", "part number", "article", "art. no",
    "item no", "sku", "ticket", "case no", "case number", "ref", "reference", "drawing",
    "serial", "batch", "lot no", "build", "po no", "po number", "purchase order", "booking",
    "confirmation no", "contract no", "policy no", "claim no", "bestellnummer", "kundennummer",
    "rechnungsnummer", "auftragsnummer", "sendungsnummer", "artikelnummer",
];

/// Whether the words just before `at` on its line (up to 40 bytes) label the number as
/// something other than a phone number, with no phone word after the label.
pub(crate) fn other_id_label(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |k| k + 1);
    let from = crate::guard::engine::ceil_char(text, line_start.max(at.saturating_sub(40)));
    let before = text[from..at].to_lowercase();
    // Whole words only: `private` holds `vat`, `preferred` holds `ref`.
    let word_at = |k: usize, w: &str| {
        let end = k + w.len();
        !before[..k].ends_with(|c: char| c.is_alphanumeric())
            && !before[end..].starts_with(|c: char| c.is_alphabetic())
    };
    let Some(label_end) = OTHER_ID_LABELS
        .iter()
        .filter_map(|w| {
            before
                .match_indices(w)
                .filter(|(k, _)| word_at(*k, w))
                .map(|(k, _)| k + w.len())
                .last()
        })
        .max()
    else {
        return false;
    };
    let rest = &before[label_end..];
    ![
        "tel", "phone", "mobile", "cell", "call", "fax", "whatsapp", "handy", "telefon",
    ]
    .iter()
    .any(|w| rest.contains(w))
}

/// A number after a word that says it is a phone number.
fn context_phone(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    // `123456789:AA…` is a bot token, not a number.
    if text[m.end..].starts_with(':') {
        return None;
    }
    let d = digits(s);
    if !(8..=15).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return None;
    }
    (phone_valid(s) && !organisation_line(text, &m) && !other_id_label(text, m.start)).then_some(m)
}

/// A number the text calls toll-free, a conference dial-in or a switchboard: an
/// organisation's line, not a person's.
fn organisation_line(text: &str, m: &Range<usize>) -> bool {
    let toll_free = [
        "toll free",
        "toll-free",
        "freephone",
        "gebührenfrei",
        "numéro vert",
        "numero verde",
        "línea gratuita",
        "linea gratuita",
        "dial-in",
        "dial in",
        "conference bridge",
        "conference line",
        "switchboard",
        "einwahl",
        "hotline",
        "helpline",
        "help desk",
        "helpdesk",
        "service desk",
        "customer service",
        "customer care",
        "support line",
        "our office",
        "our offices",
        "our head office",
        "press enquiries",
        "press inquiries",
        "media enquiries",
        "media inquiries",
        "reception desk",
        "main line",
        "main_phone",
        "main phone",
        "company_phone",
        "office_phone",
        "switchboard",
        "fax",
        "mon-fri",
        "mon–fri",
        "monday to friday",
        "monday-friday",
        "opening hours",
        "business hours",
        "lines are open",
        "öffnungszeiten",
        "from abroad",
        "customer service team",
        "our team",
        "call us",
        "contact us",
        "ring us",
        "rufen sie uns",
        "kundenservice",
        "kundendienst",
        "appelez-nous",
        "service client",
        "llámenos",
        "llamenos",
        "chiamaci",
        "bel ons",
        "ligue-nos",
    ];
    // A line in a company's contact block (`Nordlicht Logistik GmbH … Tel. +49 40 …`).
    let legal_form = [
        " gmbh",
        " ag\n",
        " ag,",
        " ag ",
        " ltd",
        " limited",
        " inc.",
        " inc,",
        " llc",
        " plc",
        " s.a.",
        " sarl",
        " s.a.s",
        " s.p.a",
        " s.r.l",
        " b.v.",
        " n.v.",
        " pty",
        " kg",
        " oy ",
        " a/s",
        " corp.",
        " gmbh & co",
    ];
    // North American toll-free codes (800, 833, 844, 855, 866, 877, 888) are
    // organisations' lines.
    let d = digits(&text[m.clone()]);
    let national = if d.len() == 11 && d[0] == 1 {
        &d[1..]
    } else {
        &d[..]
    };
    let toll_free_code = national.len() == 10
        && national[1] == national[2]
        && (national[0] == 8 && [0, 3, 4, 5, 6, 7, 8].contains(&national[1]));
    toll_free_code
        || context_has(text, m.start, m.end, 60, 60, &toll_free)
        || context_has(text, m.start, m.end, 80, 0, &legal_form)
            && !context_has(
                text,
                m.start,
                m.start,
                40,
                0,
                &[
                    "mobile", "cell", "private", "home", "personal", "handy", "privat",
                ],
            )
}

/// Whether libphonenumber's metadata accepts `s` as a number: in international form for
/// its own country, else for one of the countries whose national forms are common here.
/// North American numbers are checked by the numbering plan's own rules (area code and
/// exchange start with 2–9), so fictional `555` numbers count as phone numbers too.
pub fn phone_valid(s: &str) -> bool {
    use phonenumber::country::Id;
    let d = digits(s);
    let nanp = |d: &[u8]| d.len() == 10 && d[0] >= 2 && d[3] >= 2;
    if !s.trim_start().starts_with('+') {
        if nanp(&d) || (d.len() == 11 && d[0] == 1 && nanp(&d[1..])) {
            return true;
        }
    } else if d.first() == Some(&1) && d.len() == 11 {
        return nanp(&d[1..]);
    }
    // Numbering-plan shape alone (not a number the metadata lists as in use) is enough only
    // for international or trunk-prefixed national numbers of ten digits or more.
    let lead = s.trim_start().as_bytes().first().copied();
    let lenient = matches!(lead, Some(b'+' | b'0' | b'(')) && d.len() >= 10;
    let check = |region: Option<Id>| {
        // The crate parses with its own grammar; any surprise is contained here.
        std::panic::catch_unwind(|| {
            phonenumber::parse(region, s).is_ok_and(|n| {
                // Valid for its country, or of a length and shape the country's numbering
                // plan allows (reserved fictional ranges such as UK 07700 900xxx count:
                // they are what people write in examples of personal data).
                let national = format!(
                    "{}{}",
                    "0".repeat(usize::from(n.national().zeros())),
                    n.national().value()
                );
                phonenumber::is_valid(&n)
                    || lenient
                        && phonenumber::metadata::DATABASE
                            .by_code(&n.code().value())
                            .unwrap_or_default()
                            .iter()
                            .any(|meta| meta.descriptors().general().is_match(&national))
            })
        })
        .unwrap_or(false)
    };
    if s.trim_start().starts_with('+') {
        return check(None);
    }
    // National forms: countries with a trunk prefix `0` when one is written, else the
    // common ones dialled without (Spain, Italy, China, Poland, Mexico, Brazil, Russia).
    let regions: &[Id] = if lead == Some(b'0') || lead == Some(b'(') {
        &[
            Id::GB,
            Id::DE,
            Id::FR,
            Id::AU,
            Id::JP,
            Id::IT,
            Id::NL,
            Id::IN,
            Id::KR,
            Id::CH,
            Id::AT,
            Id::BE,
            Id::IE,
            Id::SE,
            Id::BR,
            Id::NZ,
            Id::ZA,
            Id::TR,
        ]
    } else if (9..=11).contains(&d.len()) {
        &[Id::ES, Id::IT, Id::CN, Id::PL, Id::MX, Id::BR, Id::RU]
    } else {
        &[]
    };
    regions.iter().copied().any(|r| check(Some(r)))
}

fn looks_like_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['-', '.', '/', ' ']).collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let short = |p: &str| p.len() <= 2;
    numeric
        && parts.len() == 3
        && ((parts[0].len() == 4 && short(parts[1]) && short(parts[2]))
            || (parts[2].len() == 4 && short(parts[0]) && short(parts[1])))
}

/// IP address: parses as IPv4 or IPv6; IPv6 needs at least three groups with digits so a
/// time (`12:30:45`) or a `::` separator alone is not one.
pub(crate) fn valid_ip(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    if s.contains('.') {
        return s.parse::<std::net::Ipv4Addr>().is_ok().then_some(m);
    }
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    (groups >= 3 && s.parse::<std::net::Ipv6Addr>().is_ok()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_by_country() {
        for p in [
            "+44 7700 900123",
            "(415) 555-2671",
            "020 7946 0958",
            "+55 11 91234-5678",
            "030 12345678",
            "06 12 34 56 78",
            "090-1234-5678",
        ] {
            assert!(phone_valid(p), "{p}");
        }
        for p in ["+1 000 000 0000", "2026 1124 0001", "+44 12"] {
            assert!(!phone_valid(p), "{p}");
        }
    }

    fn pii_types(text: &str) -> Vec<String> {
        crate::guard::Guard::new(&[])
            .expect("built-ins compile")
            .scan_plain(text, "$")
            .into_iter()
            .filter(|f| &*f.detector == "pii")
            .map(|f| f.kind.to_string())
            .collect()
    }

    #[test]
    fn organisations_mailboxes_lines_and_test_card_tables_are_not_personal() {
        for t in [
            // Role mailboxes in other languages.
            "Fragen zur Lieferung an versand@moebel-nord.de, Reklamationen an reklamation@moebel-nord.de",
            "Pour toute commande : commandes@atelier-lumiere.fr",
            "Escríbenos a pedidos@ferreteria-sol.es",
            // A number the text offers as the organisation's line.
            "If you did not make this change, call us on 0345 300 0000 or visit a branch.",
            // Documented test cards under a heading that says so.
            "Testing card payments\n\n| Brand | Number |\n|---|---|\n| Visa | 4000 0566 5566 5556 |\n| Mastercard | 5555 5555 5555 4444 |",
        ] {
            assert!(pii_types(t).is_empty(), "{t}: {:?}", pii_types(t));
        }
        // A person's mailbox whose parts are names, and a person's own number, still are.
        assert_eq!(
            pii_types("Bitte an jonas.bergmann@posteo.de schicken"),
            ["email"]
        );
        assert_eq!(pii_types("Call me on 07700 900123 after six"), ["phone"]);
    }
}
