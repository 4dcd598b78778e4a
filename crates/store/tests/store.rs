//! The SQLite back end through the traits: schema, users, bindings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

use common::binding;
use common::spec::{registrar_binding, user};
use switchboard_core::{FlowId, Transport};
use switchboard_proto::digest::{self, Algorithm};
use switchboard_server::registrar::{Aor, BindingKey};
use switchboard_store::{
    BindingChange, BindingStore, DB_FILE_NAME, Ha1Set, ImportSummary, SqliteStore, Store,
    StoreError, User, UserStore,
};

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
fn usable_as_a_trait_object() {
    let store: Box<dyn Store> = Box::new(SqliteStore::open_in_memory().unwrap());
    store.add_user(&user("alice", "example.com")).unwrap();
    assert_eq!(store.count_users(None).unwrap(), 1);
    assert!(store.load_all().unwrap().is_empty());
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

// The bodies shared with the PostgreSQL back end (tests/postgres.rs).
common::backend_tests!(common::spec::Sqlite::new();
    users_crud,
    binding_upsert_remove_remove_aor_and_purge,
    apply_is_all_or_nothing,
    bad_binding_text_is_refused,
    every_key_kind_and_q_is_loaded_back_as_stored,
    a_flow_is_not_restored_and_registered_at_comes_back_as_updated_at,
    tokens_are_added_listed_found_and_removed,
    a_taken_name_or_a_bad_value_is_refused,
);
