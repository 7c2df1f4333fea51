-- +goose Up
-- The start of the term a renewal followed: a policy renewed before its end
-- is in force (not "scheduled") until the new term starts.
ALTER TABLE policies ADD COLUMN previous_start_date DATE;

-- +goose Down
ALTER TABLE policies DROP COLUMN previous_start_date;
