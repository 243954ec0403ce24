/// The fleet database's schema: the same tables, columns and constraints as the SQLite schema at
/// version 6 (`Schema/`), in PostgreSQL's types. User-controlled bytes (argv, reason, ticket, cwd,
/// tty, comments) are BYTEA: PostgreSQL's TEXT refuses invalid UTF-8 and NUL, and jitexec stores
/// what was given exactly. Times are microseconds since the epoch (UTC), as in SQLite.
///
/// Numbered like SQLite's migrations, kept in `jitexec_schema`; a migration, once released, never
/// changes. Every open checks the version; only a role that owns the schema can migrate.
enum PGSchema {
    static let all: [(version: Int64, sql: String)] = [(1, v1), (2, v2)]
    static var latest: Int64 { all.last!.version }

    /// Version 1: everything SQLite's versions 1–6 hold.
    static let v1 = """
        CREATE TABLE requests (
            id                BIGSERIAL PRIMARY KEY,
            kind              TEXT   NOT NULL CHECK (kind IN ('command', 'login')),
            status            TEXT   NOT NULL
                              CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
            requester         TEXT   NOT NULL,
            requester_uid     BIGINT NOT NULL CHECK (requester_uid BETWEEN 0 AND 4294967295),
            run_as            TEXT   NOT NULL,
            host              TEXT   NOT NULL,
            command           BYTEA  NOT NULL,
            rule              TEXT   NOT NULL,
            reason            BYTEA  NOT NULL,
            ticket            BYTEA,
            cwd               BYTEA,
            tty               BYTEA,
            scope             TEXT   NOT NULL CHECK (scope IN ('command', 'rule', 'login')),
            once              BIGINT NOT NULL CHECK (once IN (0, 1)),
            requested_seconds BIGINT CHECK (requested_seconds IS NULL OR requested_seconds > 0),
            approvals_needed  BIGINT NOT NULL CHECK (approvals_needed >= 1),
            created_at        BIGINT NOT NULL,
            expires_at        BIGINT NOT NULL CHECK (expires_at >= created_at),
            decided_at        BIGINT,
            decided_by        TEXT,
            comment           BYTEA,
            CHECK ((kind = 'login') = (scope = 'login')),
            CHECK ((status = 'pending') = (decided_at IS NULL))
        );

        CREATE TABLE approvals (
            id          BIGSERIAL PRIMARY KEY,
            request_id  BIGINT NOT NULL REFERENCES requests (id),
            approver    TEXT   NOT NULL,
            at          BIGINT NOT NULL,
            comment     BYTEA,
            max_seconds BIGINT CHECK (max_seconds IS NULL OR max_seconds > 0),
            UNIQUE (request_id, approver)
        );

        CREATE TABLE grants (
            id         BIGSERIAL PRIMARY KEY,
            request_id BIGINT REFERENCES requests (id),
            "user"     TEXT   NOT NULL,
            run_as     TEXT   NOT NULL,
            host       TEXT   NOT NULL,
            scope      TEXT   NOT NULL CHECK (scope IN ('command', 'rule', 'login')),
            command    BYTEA,
            rule       TEXT   NOT NULL,
            not_before BIGINT NOT NULL,
            expires_at BIGINT NOT NULL CHECK (expires_at >= not_before),
            uses_left  BIGINT CHECK (uses_left IS NULL OR uses_left >= 0),
            revoked_at BIGINT,
            revoked_by TEXT,
            source     TEXT   NOT NULL CHECK (source IN ('approval', 'break_glass')),
            CHECK ((scope = 'command') = (command IS NOT NULL)),
            CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
            CHECK (source = 'break_glass' OR request_id IS NOT NULL)
        );

        -- One chain for the fleet: every writer appends under the store's write lock (an advisory
        -- lock), taking head + 1; the primary key means two writers can never append the same seq.
        CREATE TABLE audit (
            seq       BIGINT PRIMARY KEY CHECK (seq >= 1),
            time      BIGINT NOT NULL,
            host      TEXT   NOT NULL,
            event     TEXT   NOT NULL,
            actor     TEXT   NOT NULL,
            fields    TEXT   NOT NULL,
            prev_hash TEXT   NOT NULL CHECK (length(prev_hash) = 64),
            hash      TEXT   NOT NULL CHECK (length(hash) = 64)
        );

        CREATE TABLE breakglass (
            grant_id    BIGINT PRIMARY KEY REFERENCES grants (id),
            reason      BYTEA  NOT NULL,
            ticket      BYTEA,
            cwd         BYTEA,
            tty         BYTEA,
            created_at  BIGINT NOT NULL,
            reviewed_at BIGINT,
            reviewed_by TEXT,
            verdict     TEXT   CHECK (verdict IN ('ok', 'flagged')),
            comment     BYTEA,
            CHECK ((reviewed_at IS NULL) = (verdict IS NULL) AND (reviewed_at IS NULL) = (reviewed_by IS NULL))
        );

        CREATE TABLE suppressed (
            actor TEXT   NOT NULL,
            event TEXT   NOT NULL,
            count BIGINT NOT NULL CHECK (count >= 0),
            PRIMARY KEY (actor, event)
        );

        CREATE TABLE grant_expiries (
            grant_id    BIGINT PRIMARY KEY REFERENCES grants (id),
            recorded_at BIGINT NOT NULL
        );

        CREATE TABLE sessions (
            id               BIGSERIAL PRIMARY KEY,
            "user"           TEXT   NOT NULL,
            run_as           TEXT   NOT NULL,
            host             TEXT   NOT NULL,
            command          BYTEA  NOT NULL,
            rule             TEXT   NOT NULL,
            grant_id         BIGINT REFERENCES grants (id),
            request_id       BIGINT,
            started_at       BIGINT NOT NULL,
            pid              BIGINT NOT NULL,
            pid_start        BIGINT NOT NULL,
            enforce_expiry   BIGINT NOT NULL,
            recording        TEXT,
            ended_at         BIGINT,
            ended            TEXT,
            exit_status      BIGINT,
            recording_size   BIGINT,
            recording_sha256 TEXT,
            stop_by          TEXT,
            stop_comment     BYTEA,
            stop_at          BIGINT
        );

        -- Hosts' own chains from before they joined the fleet (`jitctl store migrate`), verbatim:
        -- each is verified as its own chain, and its head is anchored in the fleet chain by the
        -- `store.migrated` record the move appended.
        CREATE TABLE imported_audit (
            origin    TEXT   NOT NULL,
            seq       BIGINT NOT NULL CHECK (seq >= 1),
            time      BIGINT NOT NULL,
            host      TEXT   NOT NULL,
            event     TEXT   NOT NULL,
            actor     TEXT   NOT NULL,
            fields    TEXT   NOT NULL,
            prev_hash TEXT   NOT NULL CHECK (length(prev_hash) = 64),
            hash      TEXT   NOT NULL CHECK (length(hash) = 64),
            PRIMARY KEY (origin, seq)
        );

        -- Which host each database role writes for (the admin fills it: one role per host). A role
        -- named here can append audit records and sessions only as its own host.
        CREATE TABLE fleet_hosts (
            role TEXT PRIMARY KEY,
            host TEXT NOT NULL
        );

        CREATE FUNCTION jitexec_own_host() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bound TEXT;
        BEGIN
            SELECT host INTO bound FROM fleet_hosts WHERE role = session_user;
            IF bound IS NOT NULL AND NEW.host IS DISTINCT FROM bound THEN
                RAISE EXCEPTION 'role % writes for host %, not for %', session_user, bound, NEW.host
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER audit_own_host BEFORE INSERT ON audit
            FOR EACH ROW EXECUTE FUNCTION jitexec_own_host();
        CREATE TRIGGER sessions_own_host BEFORE INSERT OR UPDATE ON sessions
            FOR EACH ROW EXECUTE FUNCTION jitexec_own_host();

        -- The rights of the hosts' roles (members of the group role jitexec_hosts, when the admin
        -- made it before the schema was created): what jitexec does, nothing more. In particular no
        -- UPDATE, DELETE or TRUNCATE on audit or imported_audit: a host cannot rewrite history.
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jitexec_hosts') THEN
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO jitexec_hosts', current_schema());
                GRANT SELECT ON jitexec_schema, fleet_hosts TO jitexec_hosts;
                GRANT SELECT, INSERT ON approvals, audit, grant_expiries, imported_audit TO jitexec_hosts;
                GRANT SELECT, INSERT, UPDATE ON requests, grants, breakglass, sessions TO jitexec_hosts;
                GRANT SELECT, INSERT, UPDATE, DELETE ON suppressed TO jitexec_hosts;
                GRANT USAGE ON SEQUENCE requests_id_seq, approvals_id_seq, grants_id_seq, sessions_id_seq
                    TO jitexec_hosts;
            END IF;
        END $$;

        CREATE INDEX grants_live_by_user   ON grants ("user", expires_at);
        CREATE INDEX grants_by_request     ON grants (request_id);
        CREATE INDEX requests_pending      ON requests (status, expires_at);
        CREATE INDEX requests_by_requester ON requests (requester, created_at);
        CREATE INDEX audit_by_time         ON audit (time);
        CREATE INDEX audit_by_actor        ON audit (actor, seq);
        CREATE INDEX audit_by_event        ON audit (event, seq);
        CREATE INDEX breakglass_unreviewed ON breakglass (reviewed_at, grant_id);
        CREATE INDEX sessions_running      ON sessions (grant_id) WHERE ended_at IS NULL;
        """

    /// Version 2: the own-host check reads the real `fleet_hosts`, whatever the session's search
    /// path, and costs a write nothing when it passes.
    /// - Version 1's trigger function named `fleet_hosts` bare, so it read whatever the session's
    ///   search path found first. A host's role could create a temporary table of that name (the
    ///   database's default TEMPORARY right; `pg_temp` comes first for tables) and then append audit
    ///   records and sessions as any host. The function now reads the table in the trigger's own
    ///   schema (`TG_TABLE_SCHEMA`) and runs with `search_path = pg_catalog, pg_temp`, so neither a
    ///   table nor a function or operator of the session's can stand in.
    /// - A session's row is its host's: another host's role may ask a running session to stop
    ///   (`jitctl stop` on any host) and change nothing else of it. Version 1 checked only the row's
    ///   new host, so a host's role could take another host's session over by writing its own name
    ///   in, and refused a stop request from any host but the session's.
    /// - The triggers fire only for a row whose host differs from the role's bound one
    ///   (`jitexec_bound_host()`: SQL, its table named in the schema it was created in, resolved when
    ///   the trigger was made). Every jitexec run connects anew, and the first call of a PL/pgSQL
    ///   function in a new server backend loads PL/pgSQL and compiles it: 1–2 ms a run, now paid
    ///   only by a write that is refused.
    static let v2 = """
        CREATE OR REPLACE FUNCTION jitexec_own_host() RETURNS trigger LANGUAGE plpgsql
            SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            bound TEXT;
        BEGIN
            EXECUTE format('SELECT host FROM %I.fleet_hosts WHERE role = $1', TG_TABLE_SCHEMA)
                INTO bound USING session_user;
            IF bound IS NULL THEN
                RETURN NEW;
            END IF;
            IF NEW.host IS DISTINCT FROM bound THEN
                RAISE EXCEPTION 'role % writes for host %, not for %', session_user, bound, NEW.host
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' THEN
                IF OLD.host IS DISTINCT FROM bound THEN
                    RAISE EXCEPTION 'role % writes for host %, not for %', session_user, bound, OLD.host
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
            END IF;
            RETURN NEW;
        END $$;

        DO $$
        BEGIN
            EXECUTE format(
                $f$CREATE FUNCTION jitexec_bound_host() RETURNS TEXT LANGUAGE sql STABLE
                       SET search_path = pg_catalog, pg_temp
                       AS 'SELECT host FROM %I.fleet_hosts WHERE role = session_user'$f$,
                current_schema());
        END $$;

        DROP TRIGGER audit_own_host ON audit;
        CREATE TRIGGER audit_own_host BEFORE INSERT ON audit FOR EACH ROW
            WHEN (NEW.host IS DISTINCT FROM coalesce(jitexec_bound_host(), NEW.host))
            EXECUTE FUNCTION jitexec_own_host();
        DROP TRIGGER sessions_own_host ON sessions;
        CREATE TRIGGER sessions_own_host BEFORE INSERT ON sessions FOR EACH ROW
            WHEN (NEW.host IS DISTINCT FROM coalesce(jitexec_bound_host(), NEW.host))
            EXECUTE FUNCTION jitexec_own_host();
        -- Another host's role may ask a running session to stop (`jitctl stop` on any host), once,
        -- and change nothing else of it. Every column but the three stop_* is compared: a column
        -- added to sessions later belongs in both lists.
        CREATE TRIGGER sessions_own_host_update BEFORE UPDATE ON sessions FOR EACH ROW
            WHEN ((OLD.host IS DISTINCT FROM coalesce(jitexec_bound_host(), OLD.host)
                   OR NEW.host IS DISTINCT FROM coalesce(jitexec_bound_host(), NEW.host))
                  AND NOT (OLD.stop_by IS NULL AND NEW.stop_by IS NOT NULL AND OLD.ended_at IS NULL
                           AND (OLD.id, OLD."user", OLD.run_as, OLD.host, OLD.command, OLD.rule, OLD.grant_id,
                                OLD.request_id, OLD.started_at, OLD.pid, OLD.pid_start, OLD.enforce_expiry,
                                OLD.recording, OLD.ended_at, OLD.ended, OLD.exit_status, OLD.recording_size,
                                OLD.recording_sha256)
                               IS NOT DISTINCT FROM
                               (NEW.id, NEW."user", NEW.run_as, NEW.host, NEW.command, NEW.rule, NEW.grant_id,
                                NEW.request_id, NEW.started_at, NEW.pid, NEW.pid_start, NEW.enforce_expiry,
                                NEW.recording, NEW.ended_at, NEW.ended, NEW.exit_status, NEW.recording_size,
                                NEW.recording_sha256)))
            EXECUTE FUNCTION jitexec_own_host();
        """
}
