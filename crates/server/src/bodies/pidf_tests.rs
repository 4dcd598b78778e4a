// Tests may unwrap and index: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::super::xml::read_back;
use super::*;

/// What baresip's presence module publishes (RFC 3863 §4 shape).
const BARESIP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
    entity="sip:alice@example.com">
  <tuple id="t1"><status><basic>open</basic></status><contact>sip:alice@192.0.2.1</contact>
    <note>desk phone</note></tuple>
  <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities><dm:note>At lunch &amp; back at 2</dm:note></dm:person>
</presence>"#;

/// A second device, with other prefixes and a clashing one (`dm` bound to
/// RPID here), the same tuple id, and a prefixed PIDF root.
const SOFTPHONE: &str = r#"<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:rpid"
    xmlns:d="urn:ietf:params:xml:ns:pidf:data-model"
    entity="pres:alice@example.com">
  <p:tuple id="t1"><p:status><p:basic>closed</p:basic></p:status></p:tuple>
  <d:person id="p2"><dm:activities><dm:on-the-phone/><dm:busy/></dm:activities></d:person>
  <d:device id="d1"><d:deviceID>urn:uuid:1</d:deviceID></d:device>
</p:presence>"#;

#[test]
fn reads_what_a_phone_publishes() {
    let doc = parse_pidf(BARESIP).unwrap();
    assert_eq!(doc.basic(), Some(Basic::Open));
    assert_eq!(doc.note().as_deref(), Some("At lunch & back at 2"));
    assert_eq!(doc.activities(), ["away"]);
    assert_eq!(doc.entity(), "sip:alice@example.com");
    let kinds: Vec<_> = doc.elements().map(|e| (e.kind(), e.id())).collect();
    assert_eq!(
        kinds,
        [
            (ElementKind::Tuple, Some("t1")),
            (ElementKind::Person, Some("p1"))
        ]
    );

    let soft = parse_pidf(SOFTPHONE).unwrap();
    assert_eq!(soft.basic(), Some(Basic::Closed));
    assert_eq!(soft.note(), None);
    assert_eq!(soft.activities(), ["on-the-phone", "busy"]);
}

#[test]
fn the_first_tuple_gives_basic_and_a_presence_note_comes_first() {
    let doc = parse_pidf(
        r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">
        <tuple id="a"><status><basic>closed</basic></status><note>tuple</note></tuple>
        <tuple id="b"><status><basic>open</basic></status></tuple>
        <note>presence</note></presence>"#,
    )
    .unwrap();
    assert_eq!(doc.basic(), Some(Basic::Closed));
    assert_eq!(doc.note().as_deref(), Some("presence"));
}

#[test]
fn refuses_what_is_not_a_pidf_document() {
    let wrong = [
        // Wrong namespace, wrong root, none.
        r#"<presence xmlns="urn:example:other"/>"#,
        r#"<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"/>"#,
        "<presence/>",
    ];
    for body in wrong {
        assert!(
            matches!(parse_pidf(body), Err(BodyError::WrongDocument { .. })),
            "{body}"
        );
    }
    let not_xml = [
        "",
        "   ",
        "open",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"></presence><presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>trailing",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><x:tuple/></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><tuple x:id=\"1\"/></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>&undefined;</note></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"&lol;\"/>",
        // Found by the pidf fuzz target: an empty prefix binding.
        "<p:presence xmlns:p=\"urn:ietf:params:xml:ns:pidf\" xmlns:=\"urn:x\"/>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>&#0;</note></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>&#1;</note></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note a=\"&#x1b;\"/></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>\u{1}</note></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>\u{fffe}</note></presence>",
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" a=\"1\" a=\"2\"/>",
    ];
    for body in not_xml {
        assert!(
            matches!(parse_pidf(body), Err(BodyError::NotXml { .. })),
            "{body}: {:?}",
            parse_pidf(body)
        );
    }
    assert_eq!(parse_pidf("<p/>").unwrap_err().status().as_u16(), 400);
}

#[test]
fn refuses_entity_expansion() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE presence [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf"><note>&lol2;</note></presence>"#;
    assert_eq!(parse_pidf(laughs), Err(BodyError::Doctype));
}

#[test]
fn bounds_size_and_depth() {
    let huge = format!(
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"><note>{}</note></presence>",
        "x".repeat(MAX_PIDF_BYTES)
    );
    let err = parse_pidf(&huge).unwrap_err();
    assert!(matches!(err, BodyError::TooLarge { .. }));
    assert_eq!(err.status().as_u16(), 413);

    let deep = format!(
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">{}{}</presence>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    assert_eq!(
        parse_pidf(&deep),
        Err(BodyError::TooDeep { limit: MAX_DEPTH })
    );
}

/// Every truncation of a valid document is refused, and noise is refused or
/// read without a panic; what is read composes into well-formed XML.
#[test]
fn nasty_inputs_never_panic() {
    for doc in [BARESIP, SOFTPHONE] {
        for end in 0..doc.len() {
            if let Some(prefix) = doc.get(..end) {
                // The root is closed only by the last byte.
                assert!(parse_pidf(prefix).is_err(), "{prefix}");
            }
        }
    }
    let mut seed = 0x2545_f491_u32;
    let alphabet = b"<>/=\"' &;#x:abpresncetuplidmn\n\xc3\xa9!?[]-";
    for _ in 0..2000 {
        let len = (seed % 80) as usize;
        let mut text = String::from("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">");
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            text.push(char::from(alphabet[(seed as usize) % alphabet.len()]));
        }
        if let Ok(parsed) = parse_pidf(&text) {
            read_back(&compose_pidf("pres:a@b", &[&parsed]));
        }
    }
}

#[test]
fn two_devices_compose_into_one_well_formed_document() {
    let desk = parse_pidf(BARESIP).unwrap();
    let soft = parse_pidf(SOFTPHONE).unwrap();
    let composed = compose_pidf("pres:alice@example.com", &[&desk, &soft]);
    let elements = read_back(&composed);

    let root = &elements[0];
    assert_eq!(
        (root.ns.as_str(), root.local.as_str()),
        (PIDF_NS, "presence")
    );
    assert_eq!(root.attr("entity"), Some("pres:alice@example.com"));

    // Both tuples, in the PIDF namespace, with distinct ids.
    let tuples: Vec<_> = elements
        .iter()
        .filter(|e| e.local == "tuple" && e.ns == PIDF_NS)
        .collect();
    assert_eq!(tuples.len(), 2);
    assert_eq!(tuples[0].attr("id"), Some("t1"));
    assert_eq!(tuples[1].attr("id"), Some("t1-2"));
    let basics: Vec<_> = elements
        .iter()
        .filter(|e| e.local == "basic" && e.ns == PIDF_NS)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(basics, ["open", "closed"]);

    // The most recent person only; its activities still in the RPID
    // namespace although its prefix clashed with the first document's.
    let persons: Vec<_> = elements
        .iter()
        .filter(|e| e.local == "person" && e.ns == DATA_MODEL_NS)
        .collect();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0].attr("id"), Some("p2"));
    let activities: Vec<_> = elements
        .iter()
        .filter(|e| e.ns == RPID_NS && e.path.last().map(String::as_str) == Some("activities"))
        .map(|e| e.local.as_str())
        .collect();
    assert_eq!(activities, ["on-the-phone", "busy"]);
    assert!(
        elements
            .iter()
            .any(|e| e.local == "device" && e.ns == DATA_MODEL_NS)
    );

    // The composed document reads back as a publication would.
    let again = parse_pidf(&composed).unwrap();
    assert_eq!(again.basic(), Some(Basic::Open));
    assert_eq!(again.activities(), ["on-the-phone", "busy"]);
}

#[test]
fn a_document_without_default_namespace_keeps_its_children_unqualified() {
    let doc = parse_pidf(
        r#"<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"><p:tuple id="x"><p:status><p:basic>open</p:basic></p:status></p:tuple><ext a="&lt;1&gt;">v</ext></p:presence>"#,
    )
    .unwrap();
    let composed = compose_pidf("pres:a@b", &[&doc]);
    let elements = read_back(&composed);
    let ext = elements.iter().find(|e| e.local == "ext").unwrap();
    assert_eq!(ext.ns, "");
    assert_eq!(ext.attr("a"), Some("<1>"));
    assert!(
        elements
            .iter()
            .any(|e| e.local == "tuple" && e.ns == PIDF_NS)
    );
}

/// Found by the pidf fuzz target: with a byte order mark, the elements'
/// content was cut three bytes off.
#[test]
fn a_byte_order_mark_is_skipped() {
    let doc = parse_pidf(&format!("\u{feff}{BARESIP}")).unwrap();
    assert_eq!(doc, parse_pidf(BARESIP).unwrap());
    read_back(&compose_pidf("pres:a@b", &[&doc]));
}

#[test]
fn presence_from_registration() {
    for (open, text) in [(true, "open"), (false, "closed")] {
        let body = pidf_from_registration("pres:o'neil&co@example.com", open);
        let doc = parse_pidf(&body).unwrap();
        assert_eq!(doc.basic().map(Basic::as_str), Some(text));
        assert_eq!(doc.entity(), "pres:o'neil&co@example.com");
    }
}
