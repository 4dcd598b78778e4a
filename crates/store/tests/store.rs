//! The SQLite back end through the traits: schema, users, bindings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

use common::{aor, binding};
use switchboard_core::{FlowId, Source, Transport};
use switchboard_proto::digest::{self, Algorithm};
use switchboard_server::registrar::{Aor, Binding, BindingKey, RemoveReason};
use switchboard_store::{
    BindingChange, BindingStore, DB_FILE_NAME, Ha1Set, ImportSummary, SqliteStore, Store,
    StoreError, User, UserStore,
};

fn user(name: &str, domain: &str) -> User {
    User::with_password(name, domain, &format!("pw-{name}"), 1_700_000_000)
}

#[test]
fn schema_is_created_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    {
        let store = SqliteStore::open(&data).unwrap();
        assert_eq!(store.path(), Some(data.join(DB_FILE_NAME).as_path()));
        store.add_user(&user("alice", "example.com")).unwrap();
        store
            .apply(&[BindingChange::Upsert(binding(
                "sip:alice@example.com",
                "sip:alice@192.0.2.1:5060",
                6,
            ))])
            .unwrap();
    }
    assert!(data.join(DB_FILE_NAME).is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(DB_FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "database readable by others: {mode:o}");
    }
    let store = SqliteStore::open(&data).unwrap();
    store.check_integrity().unwrap();
    assert_eq!(
        store.get_user("alice", "example.com").unwrap(),
        Some(user("alice", "example.com"))
    );
    let bindings = store.load_all().unwrap();
    assert_eq!(
        bindings,
        vec![binding(
            "sip:alice@example.com",
            "sip:alice@192.0.2.1:5060",
            6
        )]
    );
    // A second open of the same directory at the same time works too (WAL).
    let other = SqliteStore::open(&data).unwrap();
    assert_eq!(other.count_users(None).unwrap(), 1);
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE_NAME), vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[test]
fn a_data_dir_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(file.join("sub")).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn users_crud() {
    let store = SqliteStore::open_in_memory().unwrap();
    assert_eq!(store.count_users(None).unwrap(), 0);
    store.add_user(&user("bob", "example.com")).unwrap();
    store.add_user(&user("alice", "example.com")).unwrap();
    store.add_user(&user("alice", "other.org")).unwrap();

    let err = store.add_user(&user("alice", "example.com")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let names: Vec<_> = store
        .list_users(None)
        .unwrap()
        .into_iter()
        .map(|u| format!("{}@{}", u.name, u.domain))
        .collect();
    assert_eq!(
        names,
        ["alice@example.com", "bob@example.com", "alice@other.org"]
    );
    assert_eq!(
        store.list_users(Some("other.org")).unwrap(),
        vec![user("alice", "other.org")]
    );
    assert_eq!(store.count_users(Some("example.com")).unwrap(), 2);
    assert_eq!(store.count_users(None).unwrap(), 3);

    let new_ha1 = Ha1Set::from_password("bob", "example.com", "new password");
    store.set_ha1("bob", "example.com", &new_ha1).unwrap();
    let bob = store.get_user("bob", "example.com").unwrap().unwrap();
    assert_eq!(bob.ha1, new_ha1);
    assert_eq!(bob.created_unix, 1_700_000_000);
    assert!(matches!(
        store.set_ha1("carol", "example.com", &new_ha1),
        Err(StoreError::NotFound(_))
    ));

    store.remove_user("bob", "example.com").unwrap();
    assert_eq!(store.get_user("bob", "example.com").unwrap(), None);
    assert!(matches!(
        store.remove_user("bob", "example.com"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.add_user(&user("", "example.com")),
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(store.count_users(None).unwrap(), 2);
}

#[test]
fn import_of_ten_thousand_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.add_user(&user("u00007", "example.com")).unwrap();

    let started = Instant::now();
    let users: Vec<User> = (0..10_000)
        .map(|i| {
            User::with_password(
                &format!("u{i:05}"),
                "example.com",
                &format!("pw{i}"),
                1_700_000_001,
            )
        })
        .collect();
    let hashed = started.elapsed();
    let summary = store.import_users(&users).unwrap();
    let total = started.elapsed();
    println!(
        "import of 10,000 users: {:?} in all ({:?} hashing 3 HA1 each, {:?} writing)",
        total,
        hashed,
        total.saturating_sub(hashed)
    );
    assert_eq!(
        summary,
        ImportSummary {
            added: 9_999,
            updated: 1
        }
    );
    assert_eq!(summary.total(), 10_000);
    assert_eq!(store.count_users(None).unwrap(), 10_000);

    let u7 = store.get_user("u00007", "example.com").unwrap().unwrap();
    assert_eq!(
        u7.ha1,
        Ha1Set::from_password("u00007", "example.com", "pw7")
    );
    assert_eq!(
        u7.created_unix, 1_700_000_000,
        "an update keeps created_unix"
    );

    // All or nothing: one bad record and nothing is written.
    let mut bad = vec![
        user("fresh", "example.com"),
        user("also fresh", "example.com"),
    ];
    bad.push(user("x", "example.com"));
    let err = store.import_users(&bad).unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidInput(msg) if msg.contains("record 2")),
        "{err:?}"
    );
    assert_eq!(store.get_user("fresh", "example.com").unwrap(), None);
}

#[test]
fn the_store_keeps_ha1_never_the_password() {
    const PASSWORD: &str = "correct-horse-battery-staple-7d41";
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .add_user(&User::with_password("alice", "example.com", PASSWORD, 1))
            .unwrap();
        store
            .import_users(&[User::with_password("bob", "example.com", PASSWORD, 1)])
            .unwrap();
        let alice = store.get_user("alice", "example.com").unwrap().unwrap();
        for alg in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256] {
            let stored = alice.ha1.for_algorithm(alg);
            assert_ne!(stored, PASSWORD);
            assert_eq!(stored, digest::ha1(alg, "alice", "example.com", PASSWORD));
        }
        // A password cannot pass for an HA1.
        assert!(Ha1Set::new(PASSWORD, alice.ha1.sha256(), alice.ha1.sha512_256()).is_err());
        assert!(Ha1Set::new(&"0".repeat(32), PASSWORD, alice.ha1.sha512_256()).is_err());
    }
    // Not a byte of it in any file of the data directory.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "password found on disk"
        );
    }
}

#[test]
fn binding_upsert_remove_remove_aor_and_purge() {
    let store = SqliteStore::open_in_memory().unwrap();
    let alice = "sip:alice@example.com";
    let a1 = binding(alice, "sip:alice@192.0.2.1:5060", 300);
    let a2 = binding(alice, "sip:alice@192.0.2.2:5060;transport=tcp", 900);
    let a3 = binding(alice, "sip:alice@192.0.2.3:5060", 3);
    let b1 = binding("sip:bob@example.com", "sip:bob@192.0.2.9", 10);
    store
        .apply(&[
            BindingChange::Upsert(a1.clone()),
            BindingChange::Upsert(a2.clone()),
            BindingChange::Upsert(a3.clone()),
            BindingChange::Upsert(b1.clone()),
        ])
        .unwrap();
    // Highest q first.
    assert_eq!(
        store.bindings_for(&aor(alice)).unwrap(),
        vec![a2.clone(), a1.clone(), a3.clone()]
    );
    assert_eq!(store.load_all().unwrap().len(), 4);

    // Upsert replaces the binding with the same (aor, contact).
    let mut a1b = binding(alice, "sip:alice@192.0.2.1:5060", 1_000);
    a1b.path = vec!["<sip:p.example.com;lr>".into()];
    store.apply(&[BindingChange::Upsert(a1b.clone())]).unwrap();
    assert_eq!(
        store.bindings_for(&aor(alice)).unwrap(),
        vec![a1b.clone(), a2.clone(), a3.clone()]
    );

    store
        .apply(&[BindingChange::Remove {
            aor: aor(alice),
            key: a2.key.clone(),
            reason: RemoveReason::Unregistered,
        }])
        .unwrap();
    // Removing what is not there is no error.
    store
        .apply(&[
            BindingChange::Remove {
                aor: aor(alice),
                key: a2.key.clone(),
                reason: RemoveReason::Unregistered,
            },
            BindingChange::Remove {
                aor: aor("sip:nobody@example.com"),
                key: a2.key.clone(),
                reason: RemoveReason::Expired,
            },
        ])
        .unwrap();
    assert_eq!(
        store.bindings_for(&aor(alice)).unwrap(),
        vec![a1b.clone(), a3.clone()]
    );

    // expires_at: a3 = 1_700_000_003, b1 = 1_700_000_010, a1b = 1_700_001_000.
    assert_eq!(store.purge_expired(1_700_000_002).unwrap(), 0);
    assert_eq!(
        store.purge_expired(1_700_000_010).unwrap(),
        2,
        "expiry at now counts"
    );
    assert_eq!(store.load_all().unwrap(), vec![a1b.clone()]);
    assert_eq!(a1b.remaining(1_700_000_010), 990);

    store
        .apply(&[BindingChange::Remove {
            aor: aor(alice),
            key: a1b.key.clone(),
            reason: RemoveReason::Unregistered,
        }])
        .unwrap();
    assert!(store.load_all().unwrap().is_empty());
}

#[test]
fn apply_is_all_or_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let good = binding("sip:a@example.com", "sip:a@192.0.2.1", 1);
    let mut bad = binding("sip:a@example.com", "sip:a@192.0.2.2", 2);
    bad.q = Some(1001);
    let err = store
        .apply(&[
            BindingChange::Upsert(good.clone()),
            BindingChange::Upsert(bad.clone()),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
    assert!(store.load_all().unwrap().is_empty());

    // Group commit: a bad group fails alone.
    let good_group = [BindingChange::Upsert(good.clone())];
    let bad_group = [BindingChange::Upsert(bad)];
    let results = store.apply_groups(&[&good_group, &bad_group, &[]]).unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(StoreError::InvalidInput(_))));
    assert!(results[2].is_ok());
    assert_eq!(store.load_all().unwrap(), vec![good]);
}

#[test]
fn bad_binding_text_is_refused() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut with_newline = binding("sip:a@example.com", "sip:a@192.0.2.1", 1);
    with_newline.path = vec!["<sip:x;lr>\n<sip:y;lr>".into()];
    let mut empty_contact = binding("sip:a@example.com", "", 1);
    empty_contact.contact.clear();
    for bad in [with_newline, empty_contact] {
        assert!(matches!(
            store.apply(&[BindingChange::Upsert(bad)]),
            Err(StoreError::InvalidInput(_))
        ));
    }
}

#[test]
fn usable_as_a_trait_object() {
    let store: Box<dyn Store> = Box::new(SqliteStore::open_in_memory().unwrap());
    store.add_user(&user("alice", "example.com")).unwrap();
    assert_eq!(store.count_users(None).unwrap(), 1);
    assert!(store.load_all().unwrap().is_empty());
}

/// The registrar's binding as in the old `serve/convert.rs` round-trip
/// test: every field set, a Path, an instance.
fn registrar_binding(q: Option<u16>, key: BindingKey) -> Binding {
    Binding {
        aor: Aor::new("alice", "example.com").unwrap(),
        key,
        contact: "sip:alice@192.0.2.1:5060;transport=tcp".into(),
        params: ";+sip.instance=\"<urn:uuid:1>\";reg-id=1".into(),
        q,
        expires_at: 1_700_003_600,
        call_id: "c1".into(),
        cseq: 7,
        path: vec!["<sip:edge.example.com;lr>".into()],
        instance: Some("urn:uuid:1".into()),
        reg_id: Some(1),
        source: Source {
            transport: Transport::Tcp,
            remote: "192.0.2.1:5060".parse().unwrap(),
            local: "192.0.2.2:5060".parse().unwrap(),
            flow: None,
        },
        user_agent: Some("phone".into()),
        registered_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

#[test]
fn every_key_kind_and_q_is_loaded_back_as_stored() {
    for (q, key) in [
        (None, BindingKey::Contact("sip:alice@192.0.2.1:5060".into())),
        (Some(500), BindingKey::Instance("urn:uuid:1".into())),
        (Some(0), BindingKey::Instance("urn:uuid:2".into())),
        (
            Some(1000),
            BindingKey::Flow {
                instance: "urn:uuid:1".into(),
                reg_id: 1,
            },
        ),
    ] {
        let store = SqliteStore::open_in_memory().unwrap();
        let b = registrar_binding(q, key);
        switchboard_store::validate_binding(&b).unwrap();
        store.apply(&[BindingChange::Upsert(b.clone())]).unwrap();
        assert_eq!(store.load_all().unwrap(), vec![b]);
    }
}

#[test]
fn a_flow_is_not_restored_and_registered_at_comes_back_as_updated_at() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut b = registrar_binding(Some(500), BindingKey::Instance("urn:uuid:1".into()));
    b.source.flow = Some(FlowId(7));
    b.registered_at = 1_699_000_000;
    store.apply(&[BindingChange::Upsert(b.clone())]).unwrap();
    b.source.flow = None;
    b.registered_at = b.updated_at;
    assert_eq!(store.load_all().unwrap(), vec![b]);
}

/// The rows as `switchboard serve` wrote them before the store took the
/// registrar's types: the format is unchanged both ways.
#[test]
fn rows_keep_their_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut b = registrar_binding(
        Some(250),
        BindingKey::Flow {
            instance: "urn:uuid:1".into(),
            reg_id: 1,
        },
    );
    b.source.flow = Some(FlowId(7));
    b.path.push("<sip:edge2.example.com;lr>".into());
    store.apply(&[BindingChange::Upsert(b)]).unwrap();

    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
    type Row = (
        String,
        String,
        String,
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
    );
    let row: Row = conn
        .query_row(
            "SELECT aor, contact, contact_header, q, path, transport, remote_addr, local_addr, \
             flow_token FROM bindings",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "sip:alice@example.com".into(),
            "flow:1:urn:uuid:1".into(),
            "<sip:alice@192.0.2.1:5060;transport=tcp>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;q=0.25"
                .into(),
            250,
            "<sip:edge.example.com;lr>\n<sip:edge2.example.com;lr>".into(),
            "tcp".into(),
            "192.0.2.1:5060".into(),
            "192.0.2.2:5060".into(),
            Some("7".into()),
        )
    );

    // A row written that way by hand loads; one that is not a binding the
    // registrar can use is skipped, not fatal.
    conn.execute_batch(
        "DELETE FROM bindings;
         INSERT INTO bindings (aor, contact, contact_header, q, expires_at, call_id, cseq,
             instance_id, reg_id, path, transport, remote_addr, local_addr, flow_token,
             user_agent, updated_unix)
         VALUES ('sip:bob@example.com', 'contact:sip:bob@192.0.2.9', '<sip:bob@192.0.2.9>',
             1000, 1700003600, 'c2', 3, NULL, NULL, '', 'udp', '192.0.2.9:5060',
             '192.0.2.2:5060', NULL, NULL, 1700000000),
                ('sip:carol@example.com', 'no key', '<sip:carol@192.0.2.8>',
             1000, 1700003600, 'c3', 3, NULL, NULL, '', 'udp', '192.0.2.8:5060',
             '192.0.2.2:5060', NULL, NULL, 1700000000);",
    )
    .unwrap();
    let loaded = store.load_all().unwrap();
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    let bob = &loaded[0];
    assert_eq!(bob.aor, Aor::new("bob", "example.com").unwrap());
    assert_eq!(bob.key, BindingKey::Contact("sip:bob@192.0.2.9".into()));
    assert_eq!(
        (bob.contact.as_str(), bob.params.as_str(), bob.q),
        ("sip:bob@192.0.2.9", "", None)
    );
    assert_eq!(bob.source.transport, Transport::Udp);
    assert_eq!(bob.path, Vec::<String>::new());
}
