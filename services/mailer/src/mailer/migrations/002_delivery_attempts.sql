-- Attempts and the last error of each delivery, for operators; 'retrying' while SMTP answers 4xx.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries
    ADD CONSTRAINT deliveries_status_check CHECK (status IN ('sending', 'sent', 'retrying', 'failed')),
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
