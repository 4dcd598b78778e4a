//! The NOTIFY body readers on documents as servers write them.

use crate::{NotifyBody, Presence};

#[test]
fn pidf_with_rpid_reads_status_activity_and_note() {
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
  xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@example.com">
  <tuple id="t1"><status><basic>closed</basic></status></tuple>
  <tuple id="t2"><status><basic>open</basic></status></tuple>
  <dm:person id="p"><rpid:activities><rpid:away/></rpid:activities>
  <dm:note>back at 2 &amp; later</dm:note></dm:person>
</presence>"#;
    let NotifyBody::Presence(p) = NotifyBody::read(Some("application/pidf+xml"), doc.as_bytes())
    else {
        panic!("not presence")
    };
    assert_eq!(p.entity.as_deref(), Some("sip:bob@example.com"));
    assert_eq!(p.open, Some(true));
    assert_eq!(p.activity.as_deref(), Some("away"));
    assert_eq!(p.note.as_deref(), Some("back at 2 & later"));
    assert_eq!(p.to_string(), r#"open away note="back at 2 & later""#);
    // A note with markup in it survives our own writer.
    let mine = Presence::from_status("closed").with_note(Some("<gone> & \"out\"".into()));
    let back = Presence::from_pidf(&mine.to_pidf("sip:a@b", "x")).unwrap();
    assert_eq!(back.note.as_deref(), Some("<gone> & \"out\""));
    assert_eq!(back.open, Some(false));
}

#[test]
fn dialog_info_reads_each_dialog() {
    let doc = r#"<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:bob@example.com">
  <dialog id="d1" call-id="abc@h" local-tag="lt" remote-tag="rt" direction="recipient">
    <state>early</state>
    <local><identity>sip:bob@example.com</identity></local>
    <remote><identity display="Alice">sip:alice@example.com</identity><target uri="sip:alice@192.0.2.1"/></remote>
  </dialog>
</dialog-info>"#;
    let NotifyBody::Dialogs(info) =
        NotifyBody::read(Some("application/dialog-info+xml"), doc.as_bytes())
    else {
        panic!("not dialog-info")
    };
    assert_eq!(info.version, Some(3));
    assert!(info.full);
    assert_eq!(info.dialogs.len(), 1);
    let d = &info.dialogs[0];
    assert_eq!(d.state, "early");
    assert_eq!(d.direction.as_deref(), Some("recipient"));
    assert_eq!(d.remote.as_deref(), Some("sip:alice@example.com"));
    assert_eq!(d.remote_display.as_deref(), Some("Alice"));
    assert_eq!(d.call_id.as_deref(), Some("abc@h"));
}

#[test]
fn reginfo_counts_active_contacts() {
    let doc = r#"<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">
  <registration aor="sip:bob@example.com" id="r" state="active">
    <contact id="c1" state="active" event="registered"><uri>sip:bob@192.0.2.1</uri></contact>
    <contact id="c2" state="active" event="registered"><uri>sip:bob@192.0.2.2</uri></contact>
    <contact id="c3" state="terminated" event="expired"><uri>sip:bob@192.0.2.3</uri></contact>
  </registration>
</reginfo>"#;
    let NotifyBody::Registrations(info) =
        NotifyBody::read(Some("application/reginfo+xml"), doc.as_bytes())
    else {
        panic!("not reginfo")
    };
    let r = &info.registrations[0];
    assert_eq!(r.aor, "sip:bob@example.com");
    assert_eq!(r.state, "active");
    assert_eq!(r.active_contacts(), 2);
}

#[test]
fn bodies_that_do_not_parse_are_reported_by_type() {
    assert_eq!(NotifyBody::read(None, b""), NotifyBody::Empty);
    for (ct, body) in [
        ("application/pidf+xml", "<presence><tuple>"),
        ("application/pidf+xml", "<dialog-info/>"),
        ("text/plain", "hello"),
    ] {
        assert_eq!(
            NotifyBody::read(Some(ct), body.as_bytes()),
            NotifyBody::Other {
                content_type: ct.into()
            }
        );
    }
}

#[test]
fn a_resource_list_reads_each_resource_by_its_part() {
    let b = "b0undary";
    let body = format!(
        "--{b}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <list.{b}@sb>\r\n\
         Content-Type: application/rlmi+xml;charset=\"UTF-8\"\r\n\r\n\
         <?xml version=\"1.0\"?><list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:alice-blf@example.com\" \
         version=\"2\" fullState=\"true\">\
         <resource uri=\"sip:bob@example.com\"><name>Bob</name><instance id=\"i1\" state=\"active\" cid=\"r0.{b}@sb\"/></resource>\
         <resource uri=\"sip:carol@example.com\"><instance id=\"i2\" state=\"terminated\" reason=\"rejected\"/></resource>\
         </list>\r\n\
         --{b}\r\nContent-ID: <r0.{b}@sb>\r\nContent-Type: application/dialog-info+xml\r\n\r\n\
         <dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"0\" state=\"full\" entity=\"sip:bob@example.com\">\
         <dialog id=\"d\" direction=\"recipient\"><state>early</state></dialog></dialog-info>\r\n\
         --{b}--\r\n"
    );
    let content_type = format!(
        "multipart/related;type=\"application/rlmi+xml\";start=\"<list.{b}@sb>\";boundary=\"{b}\""
    );
    let NotifyBody::List(list) = NotifyBody::read(Some(&content_type), body.as_bytes()) else {
        panic!("not a list")
    };
    assert_eq!(list.uri, "sip:alice-blf@example.com");
    assert_eq!((list.version, list.full), (Some(2), true));
    assert_eq!(list.resources.len(), 2);
    let bob = &list.resources[0];
    assert_eq!(
        (bob.uri.as_str(), bob.name.as_deref(), bob.state.as_str()),
        ("sip:bob@example.com", Some("Bob"), "active")
    );
    let NotifyBody::Dialogs(info) = &bob.body else {
        panic!("bob's part: {:?}", bob.body)
    };
    assert_eq!(info.dialogs[0].state, "early");
    let carol = &list.resources[1];
    assert_eq!(
        (carol.state.as_str(), &carol.body),
        ("terminated", &NotifyBody::Empty)
    );
}
