-- Prescriber feedback on cards (CDS Hooks 2.0 feedback), append-only: the same card may get
-- feedback more than once. No patient data: cards are known by their uuid and rule id only.
-- (PostgreSQL form of sqlite/0001_feedback.sql.)
CREATE TABLE feedback (
    id BIGSERIAL PRIMARY KEY,
    service_id TEXT NOT NULL,
    card_uuid TEXT NOT NULL,
    rule_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    accepted_suggestions TEXT NOT NULL,
    override_code TEXT,
    override_system TEXT,
    override_display TEXT,
    user_comment TEXT,
    outcome_timestamp TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX feedback_card ON feedback (card_uuid);
CREATE INDEX feedback_rule ON feedback (rule_id, outcome);
