/// Version 4: how many records of one event one person was not given, past the per-hour bound on
/// what an unauthenticated caller can make jitexec store (`Workflow.appendBounded`). The next record
/// of that event that is written carries the count (`suppressed`), and the row goes back to zero.
enum SchemaV4 {
    static let sql = """
        CREATE TABLE suppressed (
            actor TEXT    NOT NULL,
            event TEXT    NOT NULL,
            count INTEGER NOT NULL CHECK (count >= 0),
            PRIMARY KEY (actor, event)
        );
        """
}
