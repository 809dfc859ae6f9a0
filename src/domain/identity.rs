//! Identity consistency: whether the documents of an evaluate call, the `person` record the
//! Onboarding Server sent and the customer registry name the same person. Owns the
//! normalised form of each identity field and the `identity` fact a policy reads.
//!
//! Five fields are compared: surname, given names, birth date, document number and
//! nationality. Each source that carries a field (a document's `data`, `person`, the
//! registry entry) gives it in normalised form; every pair of sources that should carry the
//! same value is compared. A field carried by fewer than two comparable sources is
//! `"unknown"`, never a disagreement.
//!
//! The fact (its key names are a contract with banks' policies; see `docs/policy.md`):
//!
//! ```json
//! "identity": {
//!   "surname":        {"status": "agree", "documents": "unknown", "person": "agree",
//!                      "registry": "agree", "sources": ["documents[0]", "person", "registry"],
//!                      "conflicts": []},
//!   "givenNames":     {…}, "birthDate": {…}, "documentNumber": {…}, "nationality": {…},
//!   "mismatches": ["birthDate"]
//! }
//! ```
//!
//! Each of `status`, `documents`, `person` and `registry` is `"agree"`, `"disagree"` or
//! `"unknown"` (a string, so that comparing it never fails a rule the way a `null` does).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use unicode_normalization::UnicodeNormalization;

use super::verification::{DocumentInput, PersonInput, RegistryPerson};

/// A compared identity field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Surname,
    GivenNames,
    BirthDate,
    DocumentNumber,
    Nationality,
}

impl Field {
    /// Every field, in the order the facts list them.
    pub const ALL: [Self; 5] = [
        Self::Surname,
        Self::GivenNames,
        Self::BirthDate,
        Self::DocumentNumber,
        Self::Nationality,
    ];

    /// The fact key (`identity.<key>`, and the name in `identity.mismatches`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Surname => "surname",
            Self::GivenNames => "givenNames",
            Self::BirthDate => "birthDate",
            Self::DocumentNumber => "documentNumber",
            Self::Nationality => "nationality",
        }
    }

    /// The normalised form of `value` for comparison; `None` when blank.
    pub fn normalise(self, value: &str) -> Option<String> {
        match self {
            Self::Surname => name_key(value),
            Self::GivenNames => given_names_key(value),
            Self::BirthDate => date_key(value),
            Self::DocumentNumber => document_number_key(value),
            Self::Nationality => nationality_key(value),
        }
    }
}

/// Whether compared values agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    Agree,
    Disagree,
    /// Nothing to compare: the field is absent, or carried by one source only.
    Unknown,
}

impl Agreement {
    /// The fact value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agree => "agree",
            Self::Disagree => "disagree",
            Self::Unknown => "unknown",
        }
    }
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `documentCheckResult.documents[i].data`.
    Document(usize),
    /// `documentCheckResult.person`, as sent (not the value the facts fill in from the
    /// documents, which would agree with them by construction).
    Person,
    /// The customer registry's record of the user.
    Registry,
}

impl Source {
    /// The label in `sources` and `conflicts`: `documents[0]`, `person`, `registry`.
    pub fn label(self) -> String {
        match self {
            Self::Document(i) => format!("documents[{i}]"),
            Self::Person => "person".to_owned(),
            Self::Registry => "registry".to_owned(),
        }
    }
}

/// One source's normalised value of a field.
#[derive(Debug, Clone)]
struct Carried<'a> {
    source: Source,
    value: String,
    /// For a document: its type and issuing country (upper-case), which decide whether two
    /// documents must carry the same document number.
    document: Option<(&'a str, Option<String>)>,
}

/// The comparison of one field across its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConsistency {
    /// Every comparison together.
    pub status: Agreement,
    /// The documents among themselves.
    pub documents: Agreement,
    /// `person` against the documents.
    pub person: Agreement,
    /// The registry against the documents and `person`.
    pub registry: Agreement,
    /// The sources that carry the field.
    pub sources: Vec<Source>,
    /// The pairs of comparable sources whose values differ.
    pub conflicts: Vec<(Source, Source)>,
}

impl FieldConsistency {
    fn to_json(&self) -> Value {
        json!({
            "status": self.status.as_str(),
            "documents": self.documents.as_str(),
            "person": self.person.as_str(),
            "registry": self.registry.as_str(),
            "sources": self.sources.iter().map(|s| s.label()).collect::<Vec<_>>(),
            "conflicts": self.conflicts.iter()
                .map(|(a, b)| [a.label(), b.label()])
                .collect::<Vec<_>>(),
        })
    }
}

/// The sources of an evaluate call's identity data.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// `documentCheckResult.person` as sent.
    pub person: Option<&'a PersonInput<'a>>,
    pub documents: &'a [DocumentInput<'a>],
    pub registry: Option<&'a RegistryPerson>,
}

/// At most this many conflicting pairs are listed per field (the agreements always count
/// every source).
pub const MAX_CONFLICTS: usize = 16;

/// Compares one field across the sources. Linear in the number of sources: a body may
/// carry many documents, and this runs inside the decision's transaction.
pub fn compare(field: Field, sources: Sources<'_>) -> FieldConsistency {
    let carried = carried(field, sources);
    let is_doc = |i: &usize| carried.get(*i).is_some_and(|c| c.document.is_some());
    let find = |class: &[usize], source: Source| {
        class
            .iter()
            .copied()
            .find(|i| carried.get(*i).is_some_and(|c| c.source == source))
    };
    let value = |i: usize| carried.get(i).map(|c| c.value.as_str());
    let (mut status, mut documents, mut person, mut registry) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    let mut conflicts = Vec::new();
    for class in classes(field, &carried) {
        status.compare(value, &class, None);
        let docs: Vec<usize> = class.iter().copied().filter(is_doc).collect();
        documents.compare(value, &docs, None);
        if let Some(p) = find(&class, Source::Person) {
            person.compare(value, &docs, Some(p));
        }
        if let Some(r) = find(&class, Source::Registry) {
            let others: Vec<usize> = class.iter().copied().filter(|i| *i != r).collect();
            registry.compare(value, &others, Some(r));
        }
        list_conflicts(value, &class, &mut conflicts);
    }
    conflicts.sort_unstable();
    let source = |i: usize| carried.get(i).map(|c| c.source);
    FieldConsistency {
        status: status.agreement(),
        documents: documents.agreement(),
        person: person.agreement(),
        registry: registry.agreement(),
        sources: carried.iter().map(|c| c.source).collect(),
        conflicts: conflicts
            .into_iter()
            .filter_map(|(a, b)| Some((source(a)?, source(b)?)))
            .collect(),
    }
}

/// The `identity` fact of an evaluate call.
pub fn facts(sources: Sources<'_>) -> Value {
    let mut map = Map::new();
    let mut mismatches = Vec::new();
    for field in Field::ALL {
        let c = compare(field, sources);
        if c.status == Agreement::Disagree {
            mismatches.push(field.key());
        }
        map.insert(field.key().into(), c.to_json());
    }
    map.insert("mismatches".into(), json!(mismatches));
    Value::Object(map)
}

/// Comparisons seen so far: none (unknown), all equal (agree) or some differ (disagree).
#[derive(Debug, Default)]
struct Tally {
    compared: bool,
    differ: bool,
}

impl Tally {
    /// Compares `members` with `against` (when given), or among themselves.
    fn compare<'v>(
        &mut self,
        value: impl Fn(usize) -> Option<&'v str>,
        members: &[usize],
        against: Option<usize>,
    ) {
        let (reference, rest) = match against {
            Some(a) => (Some(a), members),
            None => (members.first().copied(), members.get(1..).unwrap_or(&[])),
        };
        let Some(reference) = reference.and_then(&value) else {
            return;
        };
        for v in rest.iter().filter_map(|i| value(*i)) {
            self.compared = true;
            self.differ |= v != reference;
        }
    }

    fn agreement(&self) -> Agreement {
        match (self.compared, self.differ) {
            (_, true) => Agreement::Disagree,
            (true, false) => Agreement::Agree,
            (false, false) => Agreement::Unknown,
        }
    }
}

/// Adds the pairs of a class whose values differ (as index pairs, lower first), until
/// [`MAX_CONFLICTS`] are listed. The members are grouped by value first, so a class that
/// agrees costs one pass.
fn list_conflicts<'v>(
    value: impl Fn(usize) -> Option<&'v str>,
    class: &[usize],
    out: &mut Vec<(usize, usize)>,
) {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for &i in class {
        let Some(v) = value(i) else { continue };
        let g = *group_of.entry(v).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(g) {
            group.push(i);
        }
    }
    for (n, a_group) in groups.iter().enumerate() {
        for b_group in groups.iter().skip(n + 1) {
            for &a in a_group {
                for &b in b_group {
                    if out.len() >= MAX_CONFLICTS {
                        return;
                    }
                    out.push((a.min(b), a.max(b)));
                }
            }
        }
    }
}

/// The sources that carry `field`, normalised, in order: documents, `person`, registry.
fn carried<'a>(field: Field, sources: Sources<'a>) -> Vec<Carried<'a>> {
    let mut out = Vec::new();
    for (i, doc) in sources.documents.iter().enumerate() {
        let Some(data) = doc.data.as_ref() else {
            continue;
        };
        let raw = match field {
            Field::Surname => data.surname,
            Field::GivenNames => data.given_names,
            Field::BirthDate => data.date_of_birth,
            Field::DocumentNumber => data.document_number,
            Field::Nationality => data.nationality,
        };
        if let Some(value) = raw.and_then(|v| field.normalise(v)) {
            let country = doc
                .country
                .map(|c| c.trim().to_uppercase())
                .filter(|c| !c.is_empty());
            out.push(Carried {
                source: Source::Document(i),
                value,
                document: Some((doc.document_type, country)),
            });
        }
    }
    let person = sources.person.and_then(|p| match field {
        Field::Surname => p.surname,
        Field::GivenNames => p.given_names,
        Field::BirthDate => p.date_of_birth,
        Field::DocumentNumber | Field::Nationality => None,
    });
    let registry = sources.registry.and_then(|r| match field {
        Field::Surname => r.surname.as_deref(),
        Field::GivenNames => r.given_names.as_deref(),
        Field::BirthDate => r.birth_date.as_deref(),
        Field::DocumentNumber | Field::Nationality => None,
    });
    for (source, raw) in [(Source::Person, person), (Source::Registry, registry)] {
        if let Some(value) = raw.and_then(|v| field.normalise(v)) {
            out.push(Carried {
                source,
                value,
                document: None,
            });
        }
    }
    out
}

/// The sets of sources that should carry the same value of `field` (indices into
/// `carried`). For every field but the document number: all sources together.
///
/// A document number is compared only between entries of one document: documents of the
/// same type, e.g. the two sides of an ID card sent as two entries. An ID card and a
/// passport legitimately carry different numbers. When documents of one type name two or
/// more issuing countries, they are different documents (a dual citizen's passports): they
/// are compared per country, and an entry of that type without a country is compared with
/// none, as it cannot be told which document it belongs to.
fn classes(field: Field, carried: &[Carried<'_>]) -> Vec<Vec<usize>> {
    if field != Field::DocumentNumber {
        return vec![(0..carried.len()).collect()];
    }
    let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in carried.iter().enumerate() {
        if let Some((document_type, _)) = &c.document {
            by_type.entry(document_type).or_default().push(i);
        }
    }
    let mut classes = Vec::new();
    for members in by_type.into_values() {
        let mut by_country: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &members {
            if let Some((_, Some(country))) = carried.get(i).and_then(|c| c.document.as_ref()) {
                by_country.entry(country.as_str()).or_default().push(i);
            }
        }
        if by_country.len() <= 1 {
            classes.push(members);
        } else {
            classes.extend(by_country.into_values());
        }
    }
    classes
}

/// A name compared case-, diacritics- and whitespace-insensitively, hyphens read as spaces
/// and apostrophes dropped (a machine-readable zone spells `Novák-Dvořák` `NOVAK<DVORAK`
/// and `O'Brien` `OBRIEN`): `Novák-Dvořák` = `NOVAK DVORAK`.
pub fn name_key(name: &str) -> Option<String> {
    let spaced: String = normalise_name(name)
        .chars()
        .filter(|c| !matches!(c, '\'' | '\u{2019}' | '`'))
        .map(|c| if matches!(c, '-' | '<') { ' ' } else { c })
        .collect();
    let key = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    (!key.is_empty()).then_some(key)
}

/// Given names as [`name_key`], in any order: `Jan Petr` = `PETR JAN`.
pub fn given_names_key(names: &str) -> Option<String> {
    let key = name_key(names)?;
    let mut words: Vec<&str> = key.split(' ').collect();
    words.sort_unstable();
    Some(words.join(" "))
}

/// A date compared as a date (`1985-03-02` = `1985-03-02T00:00:00Z`). A value that is not a
/// date is kept as text, so it differs from every date instead of passing as absent.
pub fn date_key(date: &str) -> Option<String> {
    let trimmed = date.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match parse_date(Some(trimmed)) {
        Some(d) => iso(d),
        None => format!("text:{}", trimmed.to_uppercase()),
    })
}

fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A document number upper-case, letters and digits only: `12 345-678` = `12345678`.
pub fn document_number_key(number: &str) -> Option<String> {
    let key: String = number
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    (!key.is_empty()).then_some(key)
}

/// A nationality upper-case without filler; Germany's machine-readable `D` is `DEU`.
pub fn nationality_key(nationality: &str) -> Option<String> {
    let key: String = nationality
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    match key.as_str() {
        "" => None,
        "D" => Some("DEU".to_owned()),
        _ => Some(key),
    }
}

/// Case-, diacritics- and whitespace-insensitive form of a name: `  Jiří   NOVÁK-Dvořák ` →
/// `jiri novak-dvorak`.
pub fn normalise_name(name: &str) -> String {
    let folded: String = name
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ł' => 'l',
            'ø' => 'o',
            'đ' => 'd',
            'ß' => 's',
            other => other,
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A `YYYY-MM-DD` date (a longer ISO timestamp is cut to its date); `None` otherwise.
pub fn parse_date(text: Option<&str>) -> Option<NaiveDate> {
    let t = text?.trim();
    let day = t.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::verification::{CheckStatus, DocumentDataInput};

    #[test]
    fn name_normalisation_table() {
        for (a, b, same) in [
            ("Novák", "NOVAK", true),
            ("  novák ", "NOVÁK", true),
            ("Novák-Dvořák", "NOVAK DVORAK", true),
            ("NOVAK<DVORAK", "Novák Dvořák", true),
            ("O'Brien", "OBRIEN", true),
            ("O’Brien", "obrien", true),
            ("Łukasz", "LUKASZ", true),
            ("Novák", "Nováková", false),
            ("Jan Petr", "JanPetr", false),
        ] {
            assert_eq!(name_key(a) == name_key(b), same, "{a} vs {b}");
        }
        assert_eq!(name_key("  "), None);
        assert_eq!(name_key("-'"), None);
    }

    #[test]
    fn given_names_compare_in_any_order() {
        for (a, b, same) in [
            ("Jan Petr", "PETR JAN", true),
            ("Jiří  Jan", "jan jiri", true),
            ("Anna-Marie", "MARIE ANNA", true),
            ("Jan Petr", "JAN", false),
            ("Jan Jan", "Jan", false),
        ] {
            assert_eq!(given_names_key(a) == given_names_key(b), same, "{a} vs {b}");
        }
    }

    #[test]
    fn dates_compare_as_dates_and_garbage_differs_from_every_date() {
        assert_eq!(date_key("1985-03-02"), date_key(" 1985-03-02T00:00:00Z "));
        assert_ne!(date_key("1985-03-02"), date_key("1985-03-03"));
        assert_ne!(date_key("02.03.1985"), date_key("1985-03-02"));
        assert_eq!(date_key("02.03.1985"), Some("text:02.03.1985".to_owned()));
        assert_eq!(date_key(" "), None);
    }

    #[test]
    fn document_numbers_and_nationalities_ignore_separators_and_case() {
        assert_eq!(
            document_number_key("12 345-678"),
            document_number_key("12345678")
        );
        assert_eq!(document_number_key("ab123"), Some("AB123".to_owned()));
        assert_eq!(document_number_key(" - "), None);
        assert_eq!(nationality_key(" cze "), Some("CZE".to_owned()));
        assert_eq!(nationality_key("D<<"), Some("DEU".to_owned()));
        assert_eq!(nationality_key(""), None);
    }

    fn doc(
        document_type: &'static str,
        country: Option<&'static str>,
        data: DocumentDataInput<'static>,
    ) -> DocumentInput<'static> {
        DocumentInput {
            document_type,
            country,
            status: Some(CheckStatus::Success),
            score: None,
            data: Some(data),
            image_types: vec![],
            raw_data: None,
        }
    }

    fn jan(number: &'static str) -> DocumentDataInput<'static> {
        DocumentDataInput {
            surname: Some("NOVAK"),
            given_names: Some("JAN"),
            date_of_birth: Some("1985-03-02"),
            document_number: Some(number),
            nationality: Some("CZE"),
            ..Default::default()
        }
    }

    fn registry() -> RegistryPerson {
        RegistryPerson {
            given_names: Some("Jan".into()),
            surname: Some("Novák".into()),
            birth_date: Some("1985-03-02".into()),
        }
    }

    fn sources<'a>(
        person: Option<&'a PersonInput<'a>>,
        documents: &'a [DocumentInput<'a>],
        registry: Option<&'a RegistryPerson>,
    ) -> Sources<'a> {
        Sources {
            person,
            documents,
            registry,
        }
    }

    #[test]
    fn one_source_or_none_is_unknown_not_a_disagreement() {
        let docs = [doc("ID_CARD", Some("CZE"), jan("1"))];
        let c = compare(Field::BirthDate, sources(None, &docs, None));
        assert_eq!(c.status, Agreement::Unknown);
        assert_eq!(c.sources, [Source::Document(0)]);
        let c = compare(Field::BirthDate, sources(None, &[], None));
        assert_eq!(
            (c.status, c.documents, c.person, c.registry),
            (
                Agreement::Unknown,
                Agreement::Unknown,
                Agreement::Unknown,
                Agreement::Unknown
            )
        );
        assert!(c.sources.is_empty() && c.conflicts.is_empty());
        let f = facts(sources(None, &docs, None));
        assert_eq!(f["mismatches"], json!([]));
        assert_eq!(f["surname"]["status"], "unknown");
    }

    #[test]
    fn each_source_pair_is_reported() {
        let person = PersonInput {
            surname: Some("Novák"),
            given_names: Some("Jan"),
            date_of_birth: Some("1985-03-02"),
        };
        let reg = registry();
        let docs = [
            doc("ID_CARD", Some("CZE"), jan("1")),
            doc(
                "PASSPORT",
                Some("CZE"),
                DocumentDataInput {
                    date_of_birth: Some("2015-03-02"),
                    ..jan("P9")
                },
            ),
        ];
        let c = compare(Field::BirthDate, sources(Some(&person), &docs, Some(&reg)));
        assert_eq!(c.status, Agreement::Disagree);
        assert_eq!(c.documents, Agreement::Disagree);
        assert_eq!(c.person, Agreement::Disagree);
        assert_eq!(c.registry, Agreement::Disagree);
        assert_eq!(
            c.conflicts,
            [
                (Source::Document(0), Source::Document(1)),
                (Source::Document(1), Source::Person),
                (Source::Document(1), Source::Registry),
            ]
        );
        let f = facts(sources(Some(&person), &docs, Some(&reg)));
        assert_eq!(f["mismatches"], json!(["birthDate"]));
        assert_eq!(
            f["birthDate"]["sources"],
            json!(["documents[0]", "documents[1]", "person", "registry"])
        );
        assert_eq!(
            f["birthDate"]["conflicts"][0],
            json!(["documents[0]", "documents[1]"])
        );
        // The ID card and the passport carry different numbers, legitimately.
        assert_eq!(f["documentNumber"]["status"], "unknown");
        assert_eq!(f["surname"]["status"], "agree");
        assert_eq!(f["surname"]["registry"], "agree");
        assert_eq!(f["nationality"]["documents"], "agree");
        assert_eq!(
            f["nationality"]["registry"], "unknown",
            "the registry has none"
        );
    }

    #[test]
    fn only_the_registry_can_disagree() {
        let person = PersonInput {
            date_of_birth: Some("1985-03-03"),
            ..Default::default()
        };
        let reg = registry();
        let docs = [doc(
            "ID_CARD",
            None,
            DocumentDataInput {
                date_of_birth: Some("1985-03-03T00:00:00"),
                ..Default::default()
            },
        )];
        let c = compare(Field::BirthDate, sources(Some(&person), &docs, Some(&reg)));
        assert_eq!(
            (c.status, c.documents, c.person, c.registry),
            (
                Agreement::Disagree,
                Agreement::Unknown,
                Agreement::Agree,
                Agreement::Disagree
            )
        );
        // No other source: the registry's value is not compared.
        let c = compare(Field::BirthDate, sources(None, &[], Some(&reg)));
        assert_eq!(c.registry, Agreement::Unknown);
    }

    #[test]
    fn document_numbers_are_compared_within_one_document_only() {
        let table: [(&str, Vec<DocumentInput<'static>>, Agreement); 6] = [
            (
                "two sides of one ID card",
                vec![
                    doc("ID_CARD", Some("CZE"), jan("123 456 789")),
                    doc("ID_CARD", Some("cze"), jan("123456789")),
                ],
                Agreement::Agree,
            ),
            (
                "two sides with different numbers",
                vec![
                    doc("ID_CARD", Some("CZE"), jan("123456789")),
                    doc("ID_CARD", None, jan("987654321")),
                ],
                Agreement::Disagree,
            ),
            (
                "ID card and passport",
                vec![
                    doc("ID_CARD", Some("CZE"), jan("123456789")),
                    doc("PASSPORT", Some("CZE"), jan("P1234567")),
                ],
                Agreement::Unknown,
            ),
            (
                "passports of two countries",
                vec![
                    doc("PASSPORT", Some("CZE"), jan("P1")),
                    doc("PASSPORT", Some("SVK"), jan("P2")),
                ],
                Agreement::Unknown,
            ),
            (
                "passports of two countries and one that names none",
                vec![
                    doc("PASSPORT", Some("CZE"), jan("P1")),
                    doc("PASSPORT", Some("SVK"), jan("P2")),
                    doc("PASSPORT", None, jan("P3")),
                ],
                Agreement::Unknown,
            ),
            (
                "one side without a number",
                vec![
                    doc("ID_CARD", Some("CZE"), jan("123456789")),
                    doc(
                        "ID_CARD",
                        Some("CZE"),
                        DocumentDataInput {
                            document_number: None,
                            ..jan("")
                        },
                    ),
                ],
                Agreement::Unknown,
            ),
        ];
        for (case, docs, expected) in &table {
            let c = compare(
                Field::DocumentNumber,
                sources(None, docs, Some(&registry())),
            );
            assert_eq!(c.status, *expected, "{case}");
            assert_eq!(c.documents, *expected, "{case}");
            assert_eq!(c.registry, Agreement::Unknown, "{case}");
        }
    }

    #[test]
    fn many_documents_are_compared_in_linear_time_and_conflicts_are_capped() {
        let agreeing: Vec<DocumentInput<'static>> = (0..50_000)
            .map(|_| doc("ID_CARD", Some("CZE"), jan("123456789")))
            .collect();
        let f = facts(sources(None, &agreeing, Some(&registry())));
        assert_eq!(f["mismatches"], json!([]));
        assert_eq!(f["documentNumber"]["documents"], "agree");
        let numbers: Vec<String> = (0..5_000).map(|i| format!("N{i}")).collect();
        let differing: Vec<DocumentInput<'_>> = numbers
            .iter()
            .map(|n| DocumentInput {
                data: Some(DocumentDataInput {
                    document_number: Some(n.as_str()),
                    ..jan("")
                }),
                ..doc("ID_CARD", Some("CZE"), jan(""))
            })
            .collect();
        let c = compare(Field::DocumentNumber, sources(None, &differing, None));
        assert_eq!(c.status, Agreement::Disagree);
        assert_eq!(c.conflicts.len(), MAX_CONFLICTS);
        assert_eq!(c.conflicts[0], (Source::Document(0), Source::Document(1)));
        assert_eq!(c.sources.len(), 5_000);
    }

    #[test]
    fn spelling_differences_agree() {
        let person = PersonInput {
            surname: Some("  novák "),
            given_names: Some("Petr Jan"),
            date_of_birth: Some("1985-03-02"),
        };
        let docs = [
            doc(
                "ID_CARD",
                Some("CZE"),
                DocumentDataInput {
                    surname: Some("Novák"),
                    given_names: Some("Jan  Petr"),
                    nationality: Some("cze"),
                    ..jan("1")
                },
            ),
            doc(
                "PASSPORT",
                Some("CZE"),
                DocumentDataInput {
                    given_names: Some("PETR JAN"),
                    date_of_birth: Some("1985-03-02T00:00:00Z"),
                    ..jan("P1")
                },
            ),
        ];
        let f = facts(sources(Some(&person), &docs, None));
        assert_eq!(f["mismatches"], json!([]), "{f}");
        for field in Field::ALL {
            let expected = if field == Field::DocumentNumber {
                "unknown"
            } else {
                "agree"
            };
            assert_eq!(f[field.key()]["status"], expected, "{}", field.key());
        }
    }
}
