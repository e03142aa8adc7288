//! The database schema, as numbered migrations applied in order.

/// Migrations; index + 1 is the schema version after applying it.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE extensions (
        number               TEXT PRIMARY KEY,
        config               TEXT NOT NULL,
        blocked              INTEGER NOT NULL DEFAULT 0,
        dnd                  INTEGER NOT NULL DEFAULT 0,
        forward_all          TEXT,
        forward_busy         TEXT,
        forward_no_answer    TEXT,
        outbound_grant_until INTEGER,
        agent_logged_in      INTEGER NOT NULL DEFAULT 0,
        agent_paused         INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE codes (
        code    TEXT PRIMARY KEY,
        name    TEXT NOT NULL,
        class   INTEGER NOT NULL,
        billing TEXT
    );
    CREATE TABLE secrets (
        owner_kind TEXT NOT NULL,
        owner      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        hash       TEXT,
        failures   INTEGER NOT NULL DEFAULT 0,
        locked     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (owner_kind, owner, kind)
    );
    CREATE TABLE tallies (
        name TEXT NOT NULL,
        key  TEXT NOT NULL,
        at   INTEGER NOT NULL
    );
    CREATE INDEX tallies_by_key ON tallies (name, key, at);
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        user   TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        result TEXT NOT NULL
    );
    CREATE TABLE cdr (
        id          INTEGER PRIMARY KEY,
        start       INTEGER NOT NULL,
        caller      TEXT NOT NULL,
        dialed      TEXT NOT NULL,
        final       TEXT,
        duration    INTEGER NOT NULL,
        type        TEXT NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        originator  TEXT NOT NULL,
        via         TEXT,
        billing     TEXT
    );
    ",
    // 2: the audit log records the real uid, and apart from it what the environment claimed.
    "
    ALTER TABLE audit ADD COLUMN uid INTEGER;
    ALTER TABLE audit ADD COLUMN claimed_user TEXT;
    ",
    // 3: FC-3: the last outside caller of each extension, and changes to list settings
    // (the blacklist) made while the PBX runs, kept over the configured lists.
    "
    ALTER TABLE extensions ADD COLUMN last_external_caller TEXT;
    CREATE TABLE list_changes (
        list  TEXT NOT NULL,
        entry TEXT NOT NULL,
        added INTEGER NOT NULL,
        seq   INTEGER NOT NULL,
        PRIMARY KEY (list, entry)
    );
    ",
    // 4: voicemail messages; the audio is a WAV file under the data directory.
    "
    CREATE TABLE messages (
        id          INTEGER PRIMARY KEY,
        mailbox     TEXT NOT NULL,
        caller      TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        seconds     INTEGER NOT NULL,
        folder      TEXT NOT NULL,
        file        TEXT
    );
    CREATE INDEX messages_by_mailbox ON messages (mailbox, folder, received_at);
    ",
    // 5: what the directory was last provisioned from, so that a command run against an
    // unchanged config and plan need not read, check or provision them again.
    "
    CREATE TABLE provisioned_from (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        config      TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        plan_hash   TEXT NOT NULL,
        dialplan    TEXT NOT NULL,
        database    TEXT NOT NULL,
        system      TEXT NOT NULL,
        pbxctl      TEXT NOT NULL
    );
    ",
];
