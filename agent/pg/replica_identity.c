/*
 * agent/pg/replica_identity.c: a table's REPLICA IDENTITY judged
 * (replica_identity.h).
 *
 * What the WAL carries of an updated or deleted row is its replica
 * identity: the primary key (DEFAULT), the columns of an index (USING
 * INDEX), the whole old row (FULL) or nothing (NOTHING; also DEFAULT
 * without a primary key).  With nothing, PostgreSQL refuses UPDATE and
 * DELETE on a published table, and apply could not find the row anyway:
 * such a table is refused, with the ALTER TABLE that makes it work.
 */
#include "pg/replica_identity.h"

enum identity_verdict replica_identity_judge(char relreplident, bool has_pk, bool has_index)
{
	switch (relreplident) {
	case 'f':
		return IDENTITY_OK;
	case 'i':
		return has_index ? IDENTITY_OK : IDENTITY_INDEX_GONE;
	case 'n':
		return has_pk ? IDENTITY_NOTHING_WITH_PK : IDENTITY_NOTHING_NO_PK;
	default: /* 'd' */
		return has_pk ? IDENTITY_OK : IDENTITY_NO_KEY_DEFAULT;
	}
}

void replica_identity_explain(struct strbuf *out, enum identity_verdict v, const char *shown,
			      const char *quoted)
{
	switch (v) {
	case IDENTITY_OK:
		break;
	case IDENTITY_NO_KEY_DEFAULT:
		strbuf_addf(out,
			    "table %s has no primary key and REPLICA IDENTITY DEFAULT: its updated and "
			    "deleted rows cannot be identified (PostgreSQL would refuse its UPDATEs and "
			    "DELETEs once published); fix: ALTER TABLE %s REPLICA IDENTITY FULL (or add "
			    "a primary key)",
			    shown, quoted);
		break;
	case IDENTITY_NOTHING_WITH_PK:
		strbuf_addf(out,
			    "table %s has a primary key but REPLICA IDENTITY NOTHING: its updated and "
			    "deleted rows cannot be identified (PostgreSQL would refuse its UPDATEs and "
			    "DELETEs once published); fix: ALTER TABLE %s REPLICA IDENTITY DEFAULT (to "
			    "use the primary key)",
			    shown, quoted);
		break;
	case IDENTITY_NOTHING_NO_PK:
		strbuf_addf(out,
			    "table %s has no primary key and REPLICA IDENTITY NOTHING: its updated and "
			    "deleted rows cannot be identified (PostgreSQL would refuse its UPDATEs and "
			    "DELETEs once published); fix: ALTER TABLE %s REPLICA IDENTITY FULL (or "
			    "REPLICA IDENTITY USING INDEX on a unique index of NOT NULL columns)",
			    shown, quoted);
		break;
	case IDENTITY_INDEX_GONE:
		strbuf_addf(out,
			    "table %s has REPLICA IDENTITY USING INDEX but that index no longer exists: "
			    "its updated and deleted rows cannot be identified; fix: ALTER TABLE %s "
			    "REPLICA IDENTITY FULL (or USING INDEX on an existing unique index)",
			    shown, quoted);
		break;
	}
}
