//! Resource list NOTIFY bodies (RFC 4662): one multipart/related body with
//! an RLMI document first and one part per resource, as a phone's one
//! SUBSCRIBE to its list of lamps expects.

use std::fmt::Write as _;

use super::xml::{DECLARATION, push_attr, push_text_element, stable_id};

/// The media type of the RLMI document.
pub const RLMI: &str = "application/rlmi+xml";

const RLMI_NS: &str = "urn:ietf:params:xml:ns:rlmi";

/// The state of the subscription to one resource of the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceState {
    /// Subscribed: its state is in the body.
    Active,
    /// Waiting for authorization.
    Pending,
    /// Ended.
    Terminated {
        /// The `reason` attribute (`rejected`, `noresource`, ...).
        reason: Option<String>,
    },
}

impl ResourceState {
    /// The `state` attribute value.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Terminated { .. } => "terminated",
        }
    }
}

/// One resource of a list and its current document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResource {
    /// Its URI.
    pub uri: String,
    /// A name for people.
    pub name: Option<String>,
    /// The subscription's state.
    pub state: ResourceState,
    /// The media type of `body` (`application/dialog-info+xml`).
    pub content_type: String,
    /// Its document; empty for none (no part is sent).
    pub body: String,
}

/// The NOTIFY body of the list `list_uri`: the Content-Type header value
/// (`multipart/related;type="application/rlmi+xml";start="<cid>";
/// boundary="..."`) and the body. Each resource with a body gets a part
/// whose Content-ID is the `cid` of its `<instance>`. `boundary` comes from
/// the caller's RNG and must not occur in any resource body.
#[must_use]
pub fn rlmi_notify_body(
    list_uri: &str,
    version: u32,
    full: bool,
    resources: &[ListResource],
    boundary: &str,
) -> (String, String) {
    let content_id = |tag: &str| format!("{tag}.{boundary}@switchboard");
    let start = content_id("list");

    let mut list = String::from(DECLARATION);
    list.push_str("<list");
    push_attr(&mut list, "xmlns", RLMI_NS);
    push_attr(&mut list, "uri", list_uri);
    push_attr(&mut list, "version", &version.to_string());
    push_attr(&mut list, "fullState", if full { "true" } else { "false" });
    list.push_str(">\n");
    let mut parts = Vec::new();
    for (index, resource) in resources.iter().enumerate() {
        list.push_str("<resource");
        push_attr(&mut list, "uri", &resource.uri);
        list.push('>');
        if let Some(name) = &resource.name {
            push_text_element(&mut list, "name", name);
        }
        list.push_str("<instance");
        push_attr(&mut list, "id", &stable_id("i", &resource.uri));
        push_attr(&mut list, "state", resource.state.as_str());
        if let ResourceState::Terminated {
            reason: Some(reason),
        } = &resource.state
        {
            push_attr(&mut list, "reason", reason);
        }
        if !resource.body.is_empty() {
            let cid = content_id(&format!("r{index}"));
            push_attr(&mut list, "cid", &cid);
            parts.push((cid, resource.content_type.as_str(), resource.body.as_str()));
        }
        list.push_str("/></resource>\n");
    }
    list.push_str("</list>\n");

    let mut body = String::new();
    for (cid, content_type, part) in
        std::iter::once((start.clone(), RLMI, list.as_str())).chain(parts)
    {
        let _ = write!(
            body,
            "--{boundary}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\
             Content-Type: {content_type};charset=\"UTF-8\"\r\n\r\n{part}\r\n"
        );
    }
    let _ = write!(body, "--{boundary}--\r\n");
    let content_type =
        format!("multipart/related;type=\"{RLMI}\";start=\"<{start}>\";boundary=\"{boundary}\"");
    (content_type, body)
}

#[cfg(test)]
mod tests {
    // Tests may unwrap and index: a panic is a failed test.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::super::dialog_info::{DIALOG_INFO, dialog_info};
    use super::super::xml::read_back;
    use super::*;

    /// The parts of a multipart body: (headers, body) each.
    fn split(body: &str, boundary: &str) -> Vec<(Vec<(String, String)>, String)> {
        let delimiter = format!("--{boundary}");
        let (before_close, after_close) = body.rsplit_once(&format!("{delimiter}--")).unwrap();
        assert_eq!(after_close, "\r\n");
        before_close
            .split(&delimiter)
            .skip(1)
            .map(|part| {
                let part = part.strip_prefix("\r\n").unwrap();
                let (head, content) = part.split_once("\r\n\r\n").unwrap();
                let headers = head
                    .split("\r\n")
                    .map(|line| {
                        let (name, value) = line.split_once(':').unwrap();
                        (name.trim().to_owned(), value.trim().to_owned())
                    })
                    .collect();
                (headers, content.strip_suffix("\r\n").unwrap().to_owned())
            })
            .collect()
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        &headers.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn the_parts_match_the_instances() {
        let bob = dialog_info("sip:bob@example.com", 1, true, &[]);
        let resources = [
            ListResource {
                uri: "sip:bob@example.com".to_owned(),
                name: Some("Bob & co".to_owned()),
                state: ResourceState::Active,
                content_type: DIALOG_INFO.to_owned(),
                body: bob.clone(),
            },
            ListResource {
                uri: "sip:carol@example.com".to_owned(),
                name: None,
                state: ResourceState::Pending,
                content_type: DIALOG_INFO.to_owned(),
                body: String::new(),
            },
            ListResource {
                uri: "sip:dave@example.com".to_owned(),
                name: None,
                state: ResourceState::Terminated {
                    reason: Some("rejected".to_owned()),
                },
                content_type: DIALOG_INFO.to_owned(),
                body: String::new(),
            },
        ];
        let (content_type, body) = rlmi_notify_body(
            "sip:alice-blf@example.com",
            2,
            true,
            &resources,
            "b0undary7",
        );
        assert!(content_type.starts_with("multipart/related;type=\"application/rlmi+xml\";"));
        assert!(content_type.ends_with(";boundary=\"b0undary7\""));
        let start = content_type
            .split("start=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();

        let parts = split(&body, "b0undary7");
        assert_eq!(parts.len(), 2, "the list and bob's document");
        let (list_headers, list) = &parts[0];
        assert_eq!(header(list_headers, "Content-ID"), start);
        assert!(header(list_headers, "Content-Type").starts_with(RLMI));

        let elements = read_back(list);
        assert_eq!(
            (elements[0].ns.as_str(), elements[0].local.as_str()),
            (RLMI_NS, "list")
        );
        assert_eq!(elements[0].attr("uri"), Some("sip:alice-blf@example.com"));
        assert_eq!(elements[0].attr("version"), Some("2"));
        assert_eq!(elements[0].attr("fullState"), Some("true"));
        let name = elements.iter().find(|e| e.local == "name").unwrap();
        assert_eq!(name.text, "Bob & co");
        let instances: Vec<_> = elements.iter().filter(|e| e.local == "instance").collect();
        assert_eq!(instances.len(), 3);
        assert_eq!(instances[0].attr("state"), Some("active"));
        assert_eq!(instances[1].attr("state"), Some("pending"));
        assert_eq!(instances[1].attr("cid"), None);
        assert_eq!(instances[2].attr("state"), Some("terminated"));
        assert_eq!(instances[2].attr("reason"), Some("rejected"));

        let (bob_headers, bob_part) = &parts[1];
        assert_eq!(
            format!("<{}>", instances[0].attr("cid").unwrap()),
            header(bob_headers, "Content-ID")
        );
        assert!(header(bob_headers, "Content-Type").starts_with(DIALOG_INFO));
        assert_eq!(*bob_part, bob);
    }

    #[test]
    fn instance_ids_are_stable_across_notifies() {
        let resource = ListResource {
            uri: "sip:bob@example.com".to_owned(),
            name: None,
            state: ResourceState::Active,
            content_type: DIALOG_INFO.to_owned(),
            body: "<x/>".to_owned(),
        };
        let id = |boundary: &str| {
            let (_, body) = rlmi_notify_body(
                "sip:l@example.com",
                1,
                false,
                std::slice::from_ref(&resource),
                boundary,
            );
            let list = &split(&body, boundary)[0].1;
            read_back(list)
                .iter()
                .find(|e| e.local == "instance")
                .unwrap()
                .attr("id")
                .unwrap()
                .to_owned()
        };
        assert_eq!(id("one"), id("two"));
    }
}
