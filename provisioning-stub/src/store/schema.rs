//! Schema migrations, one list per backend. A migration is applied once, inside a
//! transaction that also records it in `schema_migrations`; never edit an applied one,
//! append a new version instead. The two lists describe the same tables.

/// `(version, name, SQL)`; versions start at 1 and increase by 1.
pub(crate) type Migration = (i64, &'static str, &'static str);

/// SQLite (3.35+ for `RETURNING`; the bundled library is newer).
pub(crate) const SQLITE: &[Migration] = &[
    (
        1,
        "initial",
        r#"
CREATE TABLE cards (
    iccid        TEXT PRIMARY KEY,
    imsi         TEXT NOT NULL UNIQUE,
    msisdn       TEXT,
    reg_key      BLOB NOT NULL CHECK (length(reg_key) = 16),
    last_counter INTEGER CHECK (last_counter >= 0),
    imported_at  INTEGER NOT NULL
);
CREATE TABLE devices (
    tac          TEXT PRIMARY KEY CHECK (length(tac) = 8),
    manufacturer TEXT NOT NULL,
    make         TEXT NOT NULL,
    model        TEXT NOT NULL,
    release_date TEXT,
    camera       INTEGER CHECK (camera IN (0, 1)),
    screen       TEXT NOT NULL,
    bands        TEXT NOT NULL,
    imported_at  INTEGER NOT NULL
);
CREATE TABLE unknown_tacs (
    tac        TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    seen_count INTEGER NOT NULL,
    last_imei  TEXT NOT NULL
);
CREATE TABLE registrations (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    source_addr TEXT NOT NULL,
    raw         BLOB NOT NULL,
    iccid       TEXT,
    imei        TEXT,
    counter     INTEGER,
    outcome     TEXT NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'replay', 'rejected')),
    reason      TEXT
);
CREATE UNIQUE INDEX registrations_accepted_counter
    ON registrations (iccid, counter) WHERE outcome = 'accepted';
CREATE INDEX registrations_received_at ON registrations (received_at);
CREATE TABLE key_issuances (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER UNIQUE REFERENCES registrations (id),
    iccid           TEXT NOT NULL,
    imei            TEXT NOT NULL,
    operator        TEXT,
    manufacturer    TEXT,
    source          TEXT NOT NULL CHECK (source IN ('local', 'manufacturer')),
    issued_at       INTEGER NOT NULL
);
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER NOT NULL REFERENCES registrations (id),
    issuance_id     INTEGER REFERENCES key_issuances (id),
    destination     TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    message_ids     TEXT NOT NULL
);
CREATE TABLE confirmations (
    issuance_id  INTEGER PRIMARY KEY REFERENCES key_issuances (id),
    confirmed_at INTEGER NOT NULL
);
CREATE TABLE ledger (
    id           INTEGER PRIMARY KEY,
    issuance_id  INTEGER NOT NULL REFERENCES key_issuances (id),
    kind         TEXT NOT NULL
                 CHECK (kind IN ('fee_request', 'payment', 'manufacturer_share', 'download_confirmation')),
    party_kind   TEXT NOT NULL CHECK (party_kind IN ('operator', 'manufacturer')),
    party        TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    recorded_at  INTEGER NOT NULL,
    UNIQUE (issuance_id, kind)
);
CREATE INDEX ledger_recorded_at ON ledger (recorded_at);
"#,
    ),
    (
        2,
        "provisioning failures",
        r#"
CREATE TABLE provisioning_failures (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER NOT NULL REFERENCES registrations (id),
    stage           TEXT NOT NULL CHECK (stage IN ('policy', 'key', 'payload', 'submit', 'handset')),
    reason          TEXT NOT NULL,
    failed_at       INTEGER NOT NULL
);
CREATE INDEX provisioning_failures_registration ON provisioning_failures (registration_id);
"#,
    ),
    (
        3,
        "manufacturer confirmation outbox",
        r#"
CREATE TABLE manufacturer_confirmations (
    issuance_id     INTEGER PRIMARY KEY REFERENCES key_issuances (id),
    manufacturer    TEXT NOT NULL,
    device_key_id   INTEGER NOT NULL,
    owed_at         INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_error      TEXT,
    sent_at         INTEGER
);
CREATE INDEX manufacturer_confirmations_pending
    ON manufacturer_confirmations (owed_at) WHERE sent_at IS NULL;
"#,
    ),
];

/// PostgreSQL (11+).
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = &[
    (
        1,
        "initial",
        r#"
CREATE TABLE cards (
    iccid        TEXT PRIMARY KEY,
    imsi         TEXT NOT NULL UNIQUE,
    msisdn       TEXT,
    reg_key      BYTEA NOT NULL CHECK (length(reg_key) = 16),
    last_counter BIGINT CHECK (last_counter >= 0),
    imported_at  BIGINT NOT NULL
);
CREATE TABLE devices (
    tac          TEXT PRIMARY KEY CHECK (length(tac) = 8),
    manufacturer TEXT NOT NULL,
    make         TEXT NOT NULL,
    model        TEXT NOT NULL,
    release_date TEXT,
    camera       BOOLEAN,
    screen       TEXT NOT NULL,
    bands        TEXT NOT NULL,
    imported_at  BIGINT NOT NULL
);
CREATE TABLE unknown_tacs (
    tac        TEXT PRIMARY KEY,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    seen_count BIGINT NOT NULL,
    last_imei  TEXT NOT NULL
);
CREATE TABLE registrations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at BIGINT NOT NULL,
    source_addr TEXT NOT NULL,
    raw         BYTEA NOT NULL,
    iccid       TEXT,
    imei        TEXT,
    counter     BIGINT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'replay', 'rejected')),
    reason      TEXT
);
CREATE UNIQUE INDEX registrations_accepted_counter
    ON registrations (iccid, counter) WHERE outcome = 'accepted';
CREATE INDEX registrations_received_at ON registrations (received_at);
CREATE TABLE key_issuances (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id BIGINT UNIQUE REFERENCES registrations (id),
    iccid           TEXT NOT NULL,
    imei            TEXT NOT NULL,
    operator        TEXT,
    manufacturer    TEXT,
    source          TEXT NOT NULL CHECK (source IN ('local', 'manufacturer')),
    issued_at       BIGINT NOT NULL
);
CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    issuance_id     BIGINT REFERENCES key_issuances (id),
    destination     TEXT NOT NULL,
    sent_at         BIGINT NOT NULL,
    message_ids     TEXT NOT NULL
);
CREATE TABLE confirmations (
    issuance_id  BIGINT PRIMARY KEY REFERENCES key_issuances (id),
    confirmed_at BIGINT NOT NULL
);
CREATE TABLE ledger (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuance_id  BIGINT NOT NULL REFERENCES key_issuances (id),
    kind         TEXT NOT NULL
                 CHECK (kind IN ('fee_request', 'payment', 'manufacturer_share', 'download_confirmation')),
    party_kind   TEXT NOT NULL CHECK (party_kind IN ('operator', 'manufacturer')),
    party        TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    recorded_at  BIGINT NOT NULL,
    UNIQUE (issuance_id, kind)
);
CREATE INDEX ledger_recorded_at ON ledger (recorded_at);
"#,
    ),
    (
        2,
        "provisioning failures",
        r#"
CREATE TABLE provisioning_failures (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id),
    stage           TEXT NOT NULL CHECK (stage IN ('policy', 'key', 'payload', 'submit', 'handset')),
    reason          TEXT NOT NULL,
    failed_at       BIGINT NOT NULL
);
CREATE INDEX provisioning_failures_registration ON provisioning_failures (registration_id);
"#,
    ),
    (
        3,
        "manufacturer confirmation outbox",
        r#"
CREATE TABLE manufacturer_confirmations (
    issuance_id     BIGINT PRIMARY KEY REFERENCES key_issuances (id),
    manufacturer    TEXT NOT NULL,
    device_key_id   BIGINT NOT NULL,
    owed_at         BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_error      TEXT,
    sent_at         BIGINT
);
CREATE INDEX manufacturer_confirmations_pending
    ON manufacturer_confirmations (owed_at) WHERE sent_at IS NULL;
"#,
    ),
];
