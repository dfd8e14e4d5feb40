-- 004_target_tables.sql — the tables connector runs load into. On the
-- platform database they already exist (owned by reconciliation), so each is
-- created only if missing, in a form compatible with the platform's, and then
-- given what loading needs: the natural-key unique index that makes a reload
-- of the same day idempotent, and loaded_by_run_id for the audit trail.
-- Creating a unique index fails if the existing data already holds duplicate
-- keys: that must be cleaned up by hand, since a merge cannot be idempotent
-- without the key.

CREATE TABLE IF NOT EXISTS sp_v2_transactions (
    id BIGSERIAL PRIMARY KEY,
    transaction_id VARCHAR(100) NOT NULL UNIQUE,
    merchant_id VARCHAR(50) NOT NULL,
    amount_paise BIGINT NOT NULL,
    currency VARCHAR(3) DEFAULT 'INR',
    transaction_date DATE NOT NULL,
    transaction_timestamp TIMESTAMPTZ NOT NULL,
    source_type VARCHAR(20) NOT NULL,
    source_name VARCHAR(100),
    batch_id VARCHAR(100),
    payment_method VARCHAR(50),
    gateway_ref VARCHAR(100),
    utr VARCHAR(50),
    rrn VARCHAR(50),
    status VARCHAR(20) DEFAULT 'PENDING',
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    exception_reason VARCHAR(50),
    settlement_batch_id UUID,
    settled_at TIMESTAMP,
    bank_fee_paise BIGINT DEFAULT 0,
    settlement_amount_paise BIGINT DEFAULT 0,
    fee_variance_paise BIGINT DEFAULT 0,
    fee_variance_percentage NUMERIC,
    acquirer_code VARCHAR(50),
    merchant_name VARCHAR(255)
);

-- No foreign key: pruning old runs must never touch loaded data.
ALTER TABLE sp_v2_transactions ADD COLUMN IF NOT EXISTS loaded_by_run_id BIGINT;

-- The merge's conflict target. When the table was created above, its UNIQUE
-- constraint already made this index (named sp_v2_transactions_transaction_id_key);
-- a pre-existing platform table may have one under another name, or none.
-- Any valid, plain unique index on transaction_id alone will do.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
          FROM pg_index i
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = 'sp_v2_transactions'::regclass
           AND i.indisunique
           AND i.indisvalid
           AND i.indnkeyatts = 1
           AND i.indpred IS NULL
           AND i.indexprs IS NULL
           AND a.attname = 'transaction_id')
    THEN
        CREATE UNIQUE INDEX sp_v2_transactions_transaction_id_key
            ON sp_v2_transactions (transaction_id);
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS idx_transactions_transaction_date
    ON sp_v2_transactions (transaction_date);

CREATE TABLE IF NOT EXISTS sp_v2_bank_statements (
    id BIGSERIAL PRIMARY KEY,
    bank_ref VARCHAR(100) NOT NULL,
    bank_name VARCHAR(100) NOT NULL,
    amount_paise BIGINT NOT NULL,
    transaction_date DATE NOT NULL,
    value_date DATE,
    utr VARCHAR(50),
    remarks TEXT,
    debit_credit VARCHAR(10),
    source_type VARCHAR(20) NOT NULL,
    source_file VARCHAR(255),
    batch_id VARCHAR(100),
    processed BOOLEAN DEFAULT false,
    matched_transaction_id VARCHAR(100),
    created_at TIMESTAMPTZ DEFAULT now()
);

ALTER TABLE sp_v2_bank_statements
    ADD COLUMN IF NOT EXISTS rrn VARCHAR(50),
    ADD COLUMN IF NOT EXISTS net_amount_paise BIGINT,
    ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ DEFAULT now(),
    -- no foreign key, as for sp_v2_transactions
    ADD COLUMN IF NOT EXISTS loaded_by_run_id BIGINT;

-- A bank reference is unique only within its bank.
CREATE UNIQUE INDEX IF NOT EXISTS uq_bank_statements_bank_ref
    ON sp_v2_bank_statements (bank_name, bank_ref);

CREATE INDEX IF NOT EXISTS idx_bank_statements_transaction_date
    ON sp_v2_bank_statements (transaction_date);
