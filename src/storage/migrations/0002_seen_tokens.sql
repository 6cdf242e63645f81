-- The `jti` of every EHR token accepted, until it expires: a second call with the same token is
-- a replay (shared by all replicas through this database). The same SQL for SQLite and PostgreSQL.
CREATE TABLE seen_tokens (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX seen_tokens_expiry ON seen_tokens (expires_at);
