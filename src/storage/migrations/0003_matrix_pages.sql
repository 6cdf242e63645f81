-- Decision-matrix pages (issue 17): one per call with an atopic-dermatitis order, under a random
-- token, kept until `expires_at` (Unix milliseconds). `body` is the page's view model as JSON: the
-- matrix filled in for the patient, with no name, identifier or birth date (age in years at most).
-- The sweep empties `body` once the page has expired (the page then answers 410 Gone) and deletes
-- the row a day later. The same SQL for SQLite and PostgreSQL.
CREATE TABLE matrix_pages (
    token TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    body TEXT
);
CREATE INDEX matrix_pages_expiry ON matrix_pages (expires_at);
