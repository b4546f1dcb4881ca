-- Malformed anchor parameters in the item bank: each anchor is warned about and left out, and
-- the run goes on with the others (the demo has 50 anchors; 7 are spoiled here, one duplicated).
SET client_min_messages = warning;
BEGIN;
-- Screening is not what this file is about: no earlier verdicts, and none made here.
DELETE FROM mirt_anchor_drift;
UPDATE question SET meta = jsonb_set(meta, '{irt,a}', '"high"') WHERE id = 1;     -- a string
UPDATE question SET meta = jsonb_set(meta, '{irt,a}', '-1') WHERE id = 2;         -- a negative slope
UPDATE question SET meta = meta #- '{irt,b}' WHERE id = 3;                          -- a missing key
UPDATE question SET meta = jsonb_set(meta, '{irt,c}', '1.5') WHERE id = 4;        -- c outside [0, 1)
UPDATE question SET meta = jsonb_set(meta, '{irt}', '"a=1.2, b=0.3"') WHERE id = 5; -- not an object
UPDATE question SET meta = meta - 'irt' WHERE id = 6;                               -- no parameters
UPDATE question SET meta = jsonb_set(meta, '{irt,D}', '0') WHERE id = 7;          -- a zero scale
-- Duplicates: the same anchor listed twice, once with the same and once with other parameters.
CREATE TEMP VIEW bank AS
    SELECT id, meta FROM question
    UNION ALL SELECT id, meta FROM question WHERE id = 8
    UNION ALL SELECT id, jsonb_set(meta, '{irt,b}', '2.5') FROM question WHERE id = 9;
SELECT n_anchors FROM mirt_calibrate('2PL', 60, items => 'bank');
ROLLBACK;
-- Anchors stored with a lower asymptote: a model without guessing cannot compare their curves,
-- so a 2PL leaves the three of them out, each with a warning (50 - 3 = 47), and a 3PL uses
-- every one (50).
BEGIN;
DELETE FROM mirt_anchor_drift;
UPDATE question SET meta = jsonb_set(meta, '{irt,c}', '0.2') WHERE id IN (10, 11, 12);
SELECT n_anchors FROM mirt_calibrate('2PL', 60, anchor_drift => 'off');
SELECT n_anchors FROM mirt_calibrate('3PL', 60, anchor_drift => 'off');
ROLLBACK;
